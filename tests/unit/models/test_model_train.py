"""Training: honest splits, calibration on its own slice, and beating the baseline on Telco."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import evaluate
from models.calibration import fit_calibrator
from models.train import TrainConfig, fit, split_frame


def test_telco_model_beats_the_logistic_baseline(telco_fit):
    summary = telco_fit.summary
    assert summary["auc"] > summary["baseline_auc"]
    assert summary["brier"] < summary["baseline_brier"]
    assert summary["n_test"] == 2113  # the shipped test.csv, untouched by training


def test_platt_calibration_matches_the_calibration_slice_on_average(telco_fit):
    calib = telco_fit.splits.calib
    p = telco_fit.model.predict(calib)
    assert abs(p.mean() - calib["churn"].mean()) < 2e-3


def test_early_stopping_kept_only_the_chosen_trees(telco_fit):
    model = telco_fit.model
    assert model.booster.num_trees() == model.best_iteration < TrainConfig().num_boost_round


def frame_over_time(n_customers=60, n_dates=10, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2026-01-01", periods=n_dates, freq="7D", tz="UTC")
    rows = [{"customer_id": f"c{c}", "observed_at": d, "x": rng.normal(), "label": int(rng.random() < 0.3)}
            for c in range(n_customers) for d in dates]
    return pd.DataFrame(rows)


def test_time_split_puts_the_latest_dates_in_test_with_an_embargo_and_disjoint_customers():
    frame = frame_over_time()
    splits = split_frame(frame, "label", time_column="observed_at", group_column="customer_id",
                         embargo=pd.Timedelta(days=14))
    test_start = splits.test["observed_at"].min()
    for part in (splits.train, splits.valid, splits.calib):
        # no training row's 14-day label window reaches into the test period
        assert (part["observed_at"] + pd.Timedelta(days=14) <= test_start).all()
    customers = [set(p["customer_id"]) for p in (splits.train, splits.valid, splits.calib)]
    assert not (customers[0] & customers[1]) and not (customers[0] & customers[2]) and not (customers[1] & customers[2])
    assert splits.test["observed_at"].nunique() == 2  # 20% of 10 dates


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "missing"}, "label column"),
        ({"feature_names": ["x", "nope"]}, "feature columns missing"),
    ],
)
def test_bad_requests_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit(frame_over_time(), **{"label": "label", **kwargs})


def test_isotonic_calibrator_single_and_batch_agree():
    rng = np.random.default_rng(1)
    margin = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-margin))).astype(int)
    cal = fit_calibrator(margin, y, "isotonic")
    probe = np.concatenate([rng.normal(size=200) * 3, [cal.x[0], cal.x[-1], -99, 99]])
    assert np.allclose([cal.apply_one(m) for m in probe], cal.apply(probe), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("y", "p", "lift10", "capture10"),
    [
        # the top 10% (1 of 10) is the only positive: lift 10, captures all positives
        ([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 10.0, 1.0),
        # the top-scored customer is negative: no lift
        ([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 0.0, 0.0),
    ],
)
def test_lift_and_capture(y, p, lift10, capture10):
    report = evaluate.report(y, p)
    assert (report["lift_top10"], report["capture_top10"]) == (lift10, capture10)
