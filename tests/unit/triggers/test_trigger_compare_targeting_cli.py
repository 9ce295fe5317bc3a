"""`retain rules backtest --compare-risk X`: per rule, 'risk > X' beside 'uplift > y' at the same volume."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from triggers.cli import app


@pytest.fixture(scope="module")
def registry_with_uplift(tmp_path_factory):
    from models import registry, uplift_registry
    from models.uplift import fit_uplift
    from models.uplift_simulated import simulated_uplift

    root = tmp_path_factory.mktemp("registry")
    registry.ensure_model(root, customers=300, days=100, seed=1, progress=False)
    data = simulated_uplift(400, 100, seed=2, progress=False)
    model = fit_uplift(data.table, data.feature_names, categorical=data.categorical)
    uplift_registry.promote(root, uplift_registry.save(root, model, metrics={"qini": 0.0}, fingerprint="e" * 8))
    return root


def _events(tmp_path):
    from simulator.engine import Simulator
    from simulator.writer import write_events

    path = tmp_path / "events.jsonl"
    write_events(path, Simulator(300, 45, seed=6).run())
    return path


def test_same_volume_per_rule(registry_with_uplift, tmp_path):
    result = CliRunner().invoke(app, ["backtest", "rules", "--events", str(_events(tmp_path)), "--model",
                                      str(registry_with_uplift), "--compare-risk", "0.05", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "uplift model" in report["model"]
    compared = [c for c in report["targeting"].values() if c["messages"]]
    assert compared
    for c in compared:
        assert c["messages"] <= c["candidates"]
        # at the same volume, ranking by predicted uplift never predicts fewer extra goals than ranking by risk
        assert c["uplift"]["predicted_extra_goals"] >= c["risk"]["predicted_extra_goals"] - 1e-9


def test_compare_needs_an_uplift_model(tmp_path):
    result = CliRunner().invoke(app, ["backtest", "rules", "--events", str(_events(tmp_path)), "--no-model",
                                      "--compare-risk", "0.05"])
    assert result.exit_code == 1
    assert "needs a promoted uplift model" in result.output
