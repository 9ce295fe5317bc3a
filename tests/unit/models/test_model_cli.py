"""`retain model ...` commands: JSON evaluation, train -> list -> promote on a temporary registry."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from models.cli import app

runner = CliRunner()


def test_evaluate_telco_json_prints_one_object_with_the_comparison():
    result = runner.invoke(app, ["evaluate", "--dataset", "telco", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"auc", "baseline_auc", "brier", "baseline_brier", "n_train", "n_test"} <= set(report)
    assert report["n_test"] == 2113 and report["auc"] > report["baseline_auc"]


def test_train_list_promote(tmp_path):
    trained = runner.invoke(app, ["train", "--dataset", "telco", "--registry", str(tmp_path), "--promote"])
    assert trained.exit_code == 0, trained.output
    version = next(p.name for p in (tmp_path / "versions").iterdir())
    listed = runner.invoke(app, ["list", "--registry", str(tmp_path)])
    assert version in listed.stdout and "*" in listed.stdout
    again = runner.invoke(app, ["promote", version, "--registry", str(tmp_path)])
    assert again.exit_code == 0 and "already serving" in again.output


def test_unknown_dataset_is_a_clear_error():
    result = runner.invoke(app, ["evaluate", "--dataset", "nowhere.parquet"])
    assert result.exit_code != 0 and "--dataset" in result.output


def test_build_dataset_writes_a_training_table(tmp_path):
    import datetime as dt

    import pandas as pd

    from model_event_factory import START, population
    from signals.events import event_to_json

    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(event_to_json(e) + b"\n" for e in population(20, 70, seed=2)))
    out = tmp_path / "table.parquet"
    start, end = (START + dt.timedelta(days=14)).isoformat(), (START + dt.timedelta(days=35)).isoformat()
    result = runner.invoke(app, ["build-dataset", str(events), str(out), "--start", start, "--end", end,
                                 "--label", "subscription", "--horizon-days", "30"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert set(table["observed_at"].dt.day) == {15, 22, 29, 5} and table["label"].isin([0, 1]).all()
