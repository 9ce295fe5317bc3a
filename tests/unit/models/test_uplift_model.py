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
    raw = rng.uniform(-0.1, 0.2, n)
    treated = (rng.random(n) < 0.8).astype(int)  # rules hold out a minority
    effect = offset + slope * raw
    outcome = (rng.random(n) < 0.5 + treated * effect).astype(int)
    fitted = fit_recalibration(raw, treated, outcome)
    assert fitted.slope == pytest.approx(slope, abs=0.05)
    assert fitted.offset == pytest.approx(offset, abs=0.01)


def test_recalibrated_mean_equals_the_measured_difference_on_unseen_customers():
    # Overfit arms (many noise features, few rows) spread and shift raw uplift; the recalibrated
    # model's mean on its unseen slice equals that slice's measured difference in means.
    from models.uplift import _in_calibration

    rng = np.random.default_rng(3)
    n = 6000
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    frame["customer_id"] = [f"c{i}" for i in range(n)]
    frame[TREATED] = (rng.random(n) < 0.7).astype(int)
    frame[OUTCOME] = (rng.random(n) < 0.4 + 0.02 * frame[TREATED]).astype(int)
    model = fit_uplift(frame, [f"x{i}" for i in range(8)])
    unseen = frame[[_in_calibration(c, t, 0.25) for c, t in zip(frame["customer_id"], frame[TREATED])]]
    measured = unseen[unseen[TREATED] == 1][OUTCOME].mean() - unseen[unseen[TREATED] == 0][OUTCOME].mean()
    assert model.predict(unseen).mean() == pytest.approx(measured, abs=1e-9)
    assert 0 < model.recalibration.slope <= 2.0


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
