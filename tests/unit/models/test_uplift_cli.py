"""`retain model evaluate-uplift`: JSON that parses, uplift beats random targeting, the oracle bounds the model."""

import json

import pytest
from typer.testing import CliRunner

from models.cli import app


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    registry = tmp_path_factory.mktemp("registry")
    result = CliRunner().invoke(app, ["evaluate-uplift", "--dataset", "simulated", "--json", "--customers", "1500",
                                      "--days", "120", "--bootstrap", "40", "--registry", str(registry), "--promote"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), registry


def test_json_has_every_policy(evaluated):
    summary, _ = evaluated
    for key in ("qini", "qini_risk_targeting", "qini_random", "oracle_qini", "qini_interval", "auuc"):
        assert key in summary
    assert set(summary["retained_per_1000_messages"]) >= {"uplift", "risk", "random", "oracle"}
    lo, hi = summary["qini_interval"]
    assert lo <= summary["qini"] <= hi


def test_uplift_beats_random_and_the_oracle_bounds_it(evaluated):
    summary, _ = evaluated
    retained = summary["retained_per_1000_messages"]
    assert summary["qini"] > summary["qini_random"]
    assert retained["uplift"] > retained["random"]
    assert summary["oracle_qini"] >= summary["qini"]
    assert retained["oracle"] >= retained["uplift"]


def test_the_gap_to_the_oracle_is_split_and_risk_is_compared_paired(evaluated):
    summary, _ = evaluated
    for key in ("observable_ceiling_qini", "qini_minus_risk_targeting"):
        lo, hi = summary[f"{key}_interval"]
        assert lo <= summary[key] <= hi
    assert summary["qini_minus_risk_targeting"] == pytest.approx(summary["qini"] - summary["qini_risk_targeting"])
    # The true effect as the features tell it ranks better than a learner that only sees outcomes.
    assert summary["observable_ceiling_qini"] > summary["qini"]


def test_the_mean_predicted_uplift_is_the_true_mean_effect(evaluated):
    # Before cross-fitted doubly robust recalibration the default shop predicted about twice the
    # true mean effect (+2.9 points against +1.5); a rule's "uplift > y" reads these points.
    summary, _ = evaluated
    assert summary["predicted_mean_uplift"] == pytest.approx(summary["true_mean_uplift"], abs=0.006)


def test_the_model_is_stored_and_promoted(evaluated):
    summary, registry = evaluated
    assert summary["promoted"] is True
    card = json.loads((registry / "uplift" / "versions" / summary["version"] / "card.json").read_text())
    assert card["kind"] == "uplift" and card["metrics"]["qini"] == pytest.approx(summary["qini"])


def test_unknown_dataset_is_one_clear_error():
    result = CliRunner().invoke(app, ["evaluate-uplift", "--dataset", "/nonexistent/table.parquet"])
    assert result.exit_code == 1
    assert "error" in result.output and "Traceback" not in result.output
