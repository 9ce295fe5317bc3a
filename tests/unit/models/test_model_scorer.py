"""The compiled scorer reproduces LightGBM + calibrator exactly, with buckets and drivers."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from models.calibration import Calibrator, fit_calibrator
from models.scorer import Scorer


def with_holes(matrix, seed=0):
    """Copy of ``matrix`` with nan, zeros and negative codes sprinkled in."""
    rng = np.random.default_rng(seed)
    out = matrix.copy()
    out[rng.random(out.shape) < 0.1] = np.nan
    out[rng.random(out.shape) < 0.05] = 0.0
    out[rng.random(out.shape) < 0.02] = -1.0
    return out


def test_scorer_probabilities_equal_the_training_pipeline(telco_fit):
    """Same rows: booster.predict (raw) + calibrator == Scorer.score, to 1e-9."""
    model = telco_fit.model
    scorer = Scorer(model.booster, model.calibrator, model.feature_names)
    rows = np.vstack([model.encode(telco_fit.splits.test), with_holes(model.encode(telco_fit.splits.test))])
    expected = model.calibrator.apply(model.booster.predict(rows, raw_score=True))
    single = np.array([scorer.score(r.tolist(), drivers=False).probability for r in rows])
    with_drivers = np.array([scorer.score(r.tolist()).probability for r in rows[:500]])
    assert np.abs(single - expected).max() <= 1e-9
    assert np.abs(with_drivers - expected[:500]).max() <= 1e-9
    assert np.abs(scorer.score_batch(rows) - expected).max() <= 1e-9
    # and the pipeline's own predict on the frame agrees too
    assert np.abs(model.predict(telco_fit.splits.test) - expected[: len(telco_fit.splits.test)]).max() <= 1e-9


@pytest.mark.parametrize(
    "params",
    [
        {},  # nan -> default direction learned per split
        {"zero_as_missing": True},  # zero and nan both "missing"
        {"use_missing": False},  # no missing handling: nan compared as 0.0
    ],
)
def test_compiled_trees_follow_lightgbm_missing_value_rules(params):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 5))
    x[:, 4] = rng.integers(0, 6, size=3000)  # a categorical code
    y = ((x[:, 0] + (x[:, 4] % 2) + rng.normal(size=3000) * 0.5) > 0.5).astype(int)
    x = with_holes(x, seed=4)
    data = lgb.Dataset(x, y, feature_name=[f"f{i}" for i in range(5)], categorical_feature=[4])
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5, **params},
                        data, num_boost_round=40)
    scorer = Scorer(booster, Calibrator(kind="sigmoid"), booster.feature_name())
    probe = with_holes(rng.normal(size=(2000, 5)) * 2, seed=5)
    probe[:, 4] = np.where(np.isnan(probe[:, 4]), np.nan, np.round(probe[:, 4] * 3))
    expected = booster.predict(probe, raw_score=True)
    assert np.abs(np.array([scorer.margin(r.tolist()) for r in probe]) - expected).max() <= 1e-9


def test_drivers_are_the_largest_saabas_contributions(telco_fit):
    model = telco_fit.model
    scorer = Scorer(model.booster, model.calibrator, model.feature_names)
    row = model.encode(telco_fit.splits.test.iloc[[0]])[0].tolist()
    margin, contrib = scorer.contributions(row)
    assert margin == pytest.approx(scorer.margin(row), abs=1e-12)
    assert contrib.sum() + scorer.bias == pytest.approx(margin, abs=1e-9)
    drivers = scorer.score(row).drivers
    assert len(drivers) == 3
    assert [abs(c) for _, c in drivers] == sorted((abs(c) for c in contrib), reverse=True)[:3]
    assert all(name in model.feature_names for name, _ in drivers)


@pytest.mark.parametrize(
    ("probability", "bucket"),
    [(0.0, "low"), (0.1999, "low"), (0.2, "medium"), (0.49, "medium"), (0.5, "high"), (1.0, "high")],
)
def test_buckets_follow_cut_points(telco_fit, probability, bucket):
    model = telco_fit.model
    scorer = Scorer(model.booster, model.calibrator, model.feature_names, cut_points=(0.2, 0.5))
    assert scorer.bucket(probability) == bucket


def test_wrong_vector_length_and_bad_cut_points_are_refused(telco_fit):
    model = telco_fit.model
    scorer = Scorer(model.booster, model.calibrator, model.feature_names)
    with pytest.raises(ValueError, match="expected 19 features"):
        scorer.score([0.0] * 3)
    with pytest.raises(ValueError, match="cut_points"):
        Scorer(model.booster, model.calibrator, model.feature_names, cut_points=(0.5, 0.2))


def test_isotonic_calibrated_scorer_also_matches(telco_fit):
    model = telco_fit.model
    calib = telco_fit.splits.calib
    iso = fit_calibrator(model.margin(calib), calib["churn"].to_numpy(), "isotonic")
    scorer = Scorer(model.booster, iso, model.feature_names)
    rows = model.encode(telco_fit.splits.test)
    expected = iso.apply(model.booster.predict(rows, raw_score=True))
    assert np.abs(np.array([scorer.score(r.tolist(), drivers=False).probability for r in rows]) - expected).max() <= 1e-9
