"""Uplift T-learner: learns who a message helps, compiles to the same numbers, lives in the registry."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from models import uplift_registry
from models.uplift import OUTCOME, TREATED, UpliftScorer, fit_uplift, in_share
from models.serving import ServingModel
from models.uplift_simulated import messaged_churn

FEATURES = ["engaged", "tenure", "noise"]


def _table(n=12000, seed=1):
    """Engaged customers are helped by a message (+15 points), the rest harmed (-10 points)."""
    rng = np.random.default_rng(seed)
    engaged = rng.integers(0, 2, n)
    tenure = rng.uniform(0, 1000, n)
    treated = rng.integers(0, 2, n)
    base = 0.6 + 0.1 * (tenure > 500)
    p = base + treated * np.where(engaged == 1, 0.15, -0.10)
    outcome = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "engaged": engaged, "tenure": tenure,
                         "noise": rng.normal(size=n), TREATED: treated, OUTCOME: outcome,
                         "true_effect": np.where(engaged == 1, 0.15, -0.10)})


@pytest.fixture(scope="module")
def fitted():
    table = _table()
    return table, fit_uplift(table, FEATURES)


def test_learns_the_sign_and_size_of_the_effect(fitted):
    table, model = fitted
    uplift = model.predict(table)
    helped, harmed = uplift[table.engaged == 1].mean(), uplift[table.engaged == 0].mean()
    assert helped == pytest.approx(0.15, abs=0.05)
    assert harmed == pytest.approx(-0.10, abs=0.05)


def test_compiled_scorer_matches_the_boosters(fitted):
    table, model = fitted
    scorer = UpliftScorer(model)
    matrix = model.treated.encode(table.head(300))
    one_by_one = np.array([scorer.uplift(row) for row in matrix])
    assert np.allclose(one_by_one, model.predict(table.head(300)), atol=1e-9)
    assert np.allclose(scorer.uplift_batch(matrix), one_by_one, atol=1e-9)
    with pytest.raises(ValueError, match="expected 3 features"):
        scorer.uplift([1.0, 2.0])


def test_an_arm_without_both_outcomes_is_refused():
    table = _table(2000)
    table.loc[table[TREATED] == 0, OUTCOME] = 1
    with pytest.raises(ValueError, match="held-out arm"):
        fit_uplift(table, FEATURES)


def test_registry_round_trip_and_gate(fitted, tmp_path):
    table, model = fitted
    first = uplift_registry.save(tmp_path, model, metrics={"qini": 0.02}, fingerprint="aaaaaaaa")
    assert uplift_registry.promote(tmp_path, first).promoted
    loaded = uplift_registry.load_promoted(tmp_path)
    assert loaded.version == first and loaded.card["kind"] == "uplift"
    assert np.allclose(loaded.model.predict(table.head(50)), model.predict(table.head(50)))
    worse = uplift_registry.save(tmp_path, model, metrics={"qini": 0.01}, fingerprint="bbbbbbbb")
    refused = uplift_registry.promote(tmp_path, worse)
    assert not refused.promoted and "worse" in refused.reason
    assert uplift_registry.promoted_version(tmp_path) == first
    forced = uplift_registry.promote(tmp_path, worse, force=True, reason="drill")
    assert forced.promoted and forced.forced and uplift_registry.promoted_version(tmp_path) == worse
    audit = [json.loads(line) for line in (tmp_path / "uplift" / "audit.jsonl").read_text().splitlines()]
    assert [a["promoted"] for a in audit] == [True, False, True]
    assert not (tmp_path / "promoted.json").exists()  # the churn model's pointer is untouched


@pytest.mark.parametrize(
    ("p", "p_messaged"),
    [(0.3, 0.1), (0.3, 0.3), (0.1, 0.4), (0.0, 0.2), (0.5, 0.0)],
)
def test_messaged_outcome_coupling_keeps_the_messaged_probability(p, p_messaged):
    rng = random.Random(5)
    n = 40000
    churned = [rng.random() < p for _ in range(n)]
    messaged = [messaged_churn(c, p, p_messaged, rng.random()) for c in churned]
    assert sum(messaged) / n == pytest.approx(p_messaged, abs=0.01)
    if p_messaged <= p:  # a message that helps never makes anyone churn who would have stayed
        assert not any(m and not c for m, c in zip(messaged, churned))


def test_deterministic_coin():
    keys = [f"k{i}" for i in range(20000)]
    share = sum(in_share(k, 0.3, "s") for k in keys) / len(keys)
    assert share == pytest.approx(0.3, abs=0.015)
    assert [in_share(k, 0.3, "s") for k in keys[:100]] == [in_share(k, 0.3, "s") for k in keys[:100]]


def test_serving_model_carries_the_promoted_uplift_model(fitted, tmp_path):
    from models import registry
    from models.train import fit

    table, model = fitted
    churn = fit(table, OUTCOME, feature_names=FEATURES).model
    registry.promote(tmp_path, registry.save(tmp_path, churn, metrics={"auc": 0.6, "brier": 0.2}, fingerprint="c" * 8))
    serving = ServingModel(tmp_path, expect_features=None, check_interval=0.0)
    assert not hasattr(serving.scorer, "uplift_points")  # no uplift model promoted yet
    uplift_registry.promote(tmp_path, uplift_registry.save(tmp_path, model, metrics={"qini": 0.01},
                                                           fingerprint="d" * 8))
    scorer = serving.scorer  # the uplift pointer changed: reloaded
    vector = model.treated.encode(table.head(1))[0].tolist()
    assert scorer.uplift_points(vector) == pytest.approx(100 * model.predict(table.head(1))[0], abs=1e-6)
    assert scorer.score(vector, drivers=False).probability == pytest.approx(churn.predict(table.head(1))[0])


@pytest.mark.parametrize(("slope", "offset"), [(1.0, 0.0), (0.5, 0.01), (0.3, -0.02), (1.5, 0.03)])
def test_recalibration_recovers_how_raw_uplift_maps_to_measured_effects(slope, offset):
    # The true effect of each row is offset + slope * raw; outcomes are drawn with a randomised treatment.
    from models.uplift import fit_recalibration

    rng = np.random.default_rng(7)
    n = 400_000
    p_control = rng.uniform(0.3, 0.6, n)
    raw = rng.uniform(-0.1, 0.2, n)
    treated = (rng.random(n) < 0.8).astype(int)  # rules hold out a minority
    effect = offset + slope * raw
    outcome = (rng.random(n) < p_control + treated * effect).astype(int)
    fitted = fit_recalibration(p_control + raw, p_control, treated, outcome)
    assert fitted.slope == pytest.approx(slope, abs=0.05)
    assert fitted.offset == pytest.approx(offset, abs=0.01)


def test_the_doubly_robust_fit_is_less_noisy_than_the_transformed_outcome():
    # Same data, many small samples: the slope's spread across samples shrinks when the arms'
    # predictions absorb what they explain (only residuals carry noise).
    from models.uplift import fit_recalibration

    rng = np.random.default_rng(11)
    dr, transformed = [], []
    for _ in range(60):
        n = 4000
        p_control = rng.uniform(0.6, 0.95, n)
        raw = rng.uniform(-0.05, 0.08, n)
        treated = (rng.random(n) < 0.5).astype(int)
        outcome = (rng.random(n) < np.clip(p_control + treated * raw, 0, 1)).astype(int)
        dr.append(fit_recalibration(p_control + raw, p_control, treated, outcome).slope)
        # The transformed outcome is the doubly robust pseudo-outcome with both arm predictions at 0.
        transformed.append(fit_recalibration(np.zeros(n) + raw, np.zeros(n), treated, outcome).slope)
    assert np.std(dr) < 0.6 * np.std(transformed)


def test_recalibration_brings_overfit_arms_back_to_the_true_mean_effect():
    # Overfit arms (many noise features, few rows) spread and shift raw uplift; cross-fitted
    # recalibration brings the mean prediction on new customers back to the true +2 points.
    rng = np.random.default_rng(3)

    def shop(n, start):
        frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
        frame["customer_id"] = [f"c{start + i}" for i in range(n)]
        frame[TREATED] = (rng.random(n) < 0.7).astype(int)
        frame[OUTCOME] = (rng.random(n) < 0.4 + 0.02 * frame[TREATED]).astype(int)
        return frame

    model = fit_uplift(shop(8000, 0), [f"x{i}" for i in range(8)])
    fresh = shop(20000, 10**6)
    raw = model.arms(fresh)[0] - model.arms(fresh)[1]
    predicted = model.predict(fresh)
    assert predicted.mean() == pytest.approx(0.02, abs=0.012)
    assert predicted.std() < 0.5 * raw.std()  # no real heterogeneity: the slope shrinks the noise
    assert 0 < model.recalibration.slope <= 2.0


def test_an_arm_whose_good_outcomes_sit_in_one_fold_is_served_raw():
    # Leaving that fold out leaves the messaged arm with one outcome: nothing to cross-fit with.
    from models.uplift import Recalibration, _fold_of

    rng = np.random.default_rng(5)
    customers = [f"c{i}" for i in range(600)]
    frame = pd.DataFrame({"x0": rng.normal(size=600), "customer_id": customers})
    frame[TREATED] = [i % 2 for i in range(600)]
    frame[OUTCOME] = [int(t == 0 and rng.random() < 0.5 or t == 1 and _fold_of(c, 4) == 0)
                      for c, t in zip(customers, frame[TREATED])]
    model = fit_uplift(frame, ["x0"], folds=4)
    assert model.recalibration == Recalibration()
    assert np.allclose(model.predict(frame), model.arms(frame)[0] - model.arms(frame)[1])


def test_a_stored_version_keeps_its_recalibration(tmp_path, fitted):
    from dataclasses import replace

    from models.uplift import Recalibration

    table, model = fitted
    shrunk = replace(model, recalibration=Recalibration(slope=0.5, offset=0.01))
    version = uplift_registry.save(tmp_path, shrunk, metrics={"qini": 0.1}, fingerprint="f")
    loaded = uplift_registry.load(tmp_path, version)
    assert loaded.model.recalibration == shrunk.recalibration
    assert np.allclose(loaded.model.predict(table.head(50)), shrunk.predict(table.head(50)))
    assert loaded.scorer().uplift(loaded.model.treated.encode(table.head(1))[0]) == pytest.approx(
        float(shrunk.predict(table.head(1))[0]), abs=1e-9)
