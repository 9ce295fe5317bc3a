"""Registry: artifacts round-trip, promotion is gated and audited, serving reloads on change."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models import registry
from models.serving import ServingModel
from models.train import TrainConfig, fit


@pytest.fixture(scope="module")
def weak_fit():
    """A deliberately poor Telco model (three stumps) to lose the promotion gate."""
    from models import telco

    train, test = telco.load_telco()
    params = {**TrainConfig().params, "num_leaves": 2, "max_depth": 1}
    return fit(train, telco.LABEL, feature_names=telco.FEATURES, categorical=telco.CATEGORICAL,
               test=test, config=TrainConfig(params=params, num_boost_round=3))


@pytest.fixture(scope="module")
def other_features_fit():
    """A Telco model on two columns only: its input is not the serving model's input."""
    from models import telco

    train, test = telco.load_telco()
    return fit(train, telco.LABEL, feature_names=["gender", "tenure"], categorical=["gender"], test=test)


def store(root, result, fingerprint="f" * 64):
    return registry.save(root, result.model, metrics=result.report, fingerprint=fingerprint)


def test_round_trip_keeps_predictions_and_writes_a_complete_card(tmp_path, telco_fit):
    version = store(tmp_path, telco_fit)
    loaded = registry.load(tmp_path, version)
    test = telco_fit.splits.test
    assert np.array_equal(loaded.model.predict(test), telco_fit.model.predict(test))
    card = json.loads((tmp_path / "versions" / version / "card.json").read_text())
    assert card["feature_names"] == telco_fit.model.feature_names
    assert card["training_data_fingerprint"] == "f" * 64
    assert card["metrics"]["auc"] == telco_fit.report["auc"]
    assert {"lightgbm", "numpy", "scikit-learn"} <= set(card["library_versions"])
    assert card["params"]["objective"] == "binary" and card["created_at"]
    assert (tmp_path / "versions" / version / "model.txt").read_text().startswith("tree")


def test_promotion_gate(tmp_path, telco_fit, weak_fit):
    good, weak = store(tmp_path, telco_fit), store(tmp_path, weak_fit)
    assert registry.load_promoted(tmp_path) is None
    first = registry.promote(tmp_path, good)
    assert first.promoted and registry.promoted_version(tmp_path) == good
    refused = registry.promote(tmp_path, weak, holdout=telco_fit.splits.test, label="churn")
    assert not refused.promoted and "worse" in refused.reason
    assert registry.promoted_version(tmp_path) == good
    forced = registry.promote(tmp_path, weak, force=True, reason="testing rollback")
    assert forced.promoted and forced.forced
    assert registry.load_promoted(tmp_path).version == weak
    audit = [json.loads(line) for line in (tmp_path / registry.AUDIT).read_text().splitlines()]
    assert [(a["version"], a["promoted"], a["forced"]) for a in audit] == [(good, True, False), (weak, False, False), (weak, True, True)]
    card = registry.load(tmp_path, weak).card
    assert card["promotions"][-1]["forced"] and "testing rollback" in card["promotions"][-1]["reason"]
    # a better candidate against the forced weak one passes the gate on recorded metrics
    assert registry.promote(tmp_path, good).promoted


def test_serving_model_reloads_when_the_pointer_changes(tmp_path, telco_fit, weak_fit):
    serving = ServingModel(tmp_path, check_interval=0.0, expect_features=telco_fit.model.feature_names)
    assert serving.scorer is None
    good, weak = store(tmp_path, telco_fit), store(tmp_path, weak_fit)
    registry.promote(tmp_path, good)
    assert serving.version == good
    registry.promote(tmp_path, weak, force=True)
    assert serving.version == weak
    assert serving.scorer.booster.num_trees() == 3


def test_serving_model_checks_the_pointer_at_most_every_interval(tmp_path, telco_fit, weak_fit):
    good, weak = store(tmp_path, telco_fit), store(tmp_path, weak_fit)
    registry.promote(tmp_path, good)
    serving = ServingModel(tmp_path, check_interval=3600.0, expect_features=telco_fit.model.feature_names)
    assert serving.version == good
    registry.promote(tmp_path, weak, force=True)
    assert serving.version == good  # not re-checked yet
    assert serving.refresh() and serving.version == weak


def test_list_versions_marks_the_serving_one(tmp_path, telco_fit, weak_fit):
    good, weak = store(tmp_path, telco_fit), store(tmp_path, weak_fit)
    registry.promote(tmp_path, weak)
    listed = {c["version"]: c["promoted"] for c in registry.list_versions(tmp_path)}
    assert listed == {good: False, weak: True}


def test_unknown_version_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model version"):
        registry.load(tmp_path, "nope")


def test_a_model_with_other_features_is_not_comparable_and_not_served(tmp_path, telco_fit, other_features_fit):
    good, other = store(tmp_path, telco_fit), store(tmp_path, other_features_fit)
    registry.promote(tmp_path, good)
    refused = registry.promote(tmp_path, other)
    assert not refused.promoted and "not comparable" in refused.reason
    # by default the holder serves only models taking the online vector of signals.features
    assert ServingModel(tmp_path, check_interval=0.0).scorer is None
