"""`retain model ...` commands: JSON evaluation, train -> list -> promote on a temporary registry."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from models.cli import app

runner = CliRunner()


def test_evaluate_telco_json_prints_one_object_with_the_comparison():
    result = runner.invoke(app, ["evaluate", "--dataset", "telco", "--json", "--no-tune"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"auc", "baseline_auc", "brier", "baseline_brier", "n_train", "n_test"} <= set(report)
    assert report["n_test"] == 2113 and report["auc"] > report["baseline_auc"]


def test_train_list_promote(tmp_path):
    trained = runner.invoke(app, ["train", "--dataset", "telco", "--registry", str(tmp_path), "--promote", "--no-tune"])
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
    result = runner.invoke(app, ["build-dataset", "--events", str(events), "--out", str(out), "--start", start,
                                 "--end", end, "--label-kind", "subscription", "--horizon-days", "30"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out)
    assert set(table["observed_at"].dt.day) == {15, 22, 29, 5} and table["label"].isin([0, 1]).all()


def _events_file(tmp_path, customers=40, days=110, seed=2):
    from model_event_factory import population
    from signals.events import event_to_json

    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(event_to_json(e) + b"\n" for e in population(customers, days, seed=seed)))
    return path


def test_one_flag_vocabulary_across_the_model_commands():
    """Finding: ``--label`` meant the label kind on build-dataset and a column name on train/evaluate."""
    import typer.main

    meaning: dict[str, set[str]] = {}
    for command in typer.main.get_command(app).commands.values():
        for param in command.params:
            for flag in param.opts:
                meaning.setdefault(flag, set()).add((param.help or "").split(" (")[0])
    assert {flag: helps for flag, helps in meaning.items() if len(helps) > 1} == {}
    assert "--label" not in meaning  # a kind and a column both say which they are
    assert {"--label-kind", "--label-column", "--activity-types", "--every", "--events", "--out"} <= set(meaning)


def test_label_activity_types_are_chosen_on_the_command_line(tmp_path):
    """Finding: "no order within H" could not be chosen from the CLI when usage events exist."""
    import datetime as dt

    import pandas as pd

    from model_event_factory import START

    events = _events_file(tmp_path)
    tables = {}
    for name, extra in (("any", []), ("orders", ["--activity-types", "order.placed"])):
        out = tmp_path / f"{name}.parquet"
        result = runner.invoke(app, ["build-dataset", "--events", str(events), "--out", str(out),
                                     "--start", (START + dt.timedelta(days=35)).isoformat(),
                                     "--end", (START + dt.timedelta(days=70)).isoformat(), *extra])
        assert result.exit_code == 0, result.output
        tables[name] = pd.read_parquet(out)
    both = tables["any"].merge(tables["orders"], on=["customer_id", "observed_at"], suffixes=("_any", "_orders"))
    assert len(both) == len(tables["any"]) == len(tables["orders"])
    # Quiet on every activity means no order too; usage without orders now counts as churn.
    assert (both["label_orders"] >= both["label_any"]).all()
    assert (both["label_orders"] > both["label_any"]).sum() >= 10


def test_train_reads_the_horizon_from_the_table_and_lists_the_dates(tmp_path):
    """Finding: the embargo took --horizon-days (default 30) instead of the table's own horizon."""
    import datetime as dt

    from model_event_factory import START

    events = _events_file(tmp_path, customers=120, days=150)
    table = tmp_path / "t.parquet"
    built = runner.invoke(app, ["build-dataset", "--events", str(events), "--out", str(table), "--horizon-days", "14",
                                "--start", (START + dt.timedelta(days=35)).isoformat(),
                                "--end", (START + dt.timedelta(days=130)).isoformat(), "--every", "7d"])
    assert built.exit_code == 0, built.output
    result = runner.invoke(app, ["evaluate", "--dataset", str(table), "--json", "--folds", "1", "--no-tune"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["horizon_days"] == 14
    fold = report["folds"][0]
    assert len(fold["dates"]["embargoed"]) == 1  # a 14-day horizon embargoes one weekly date, not four


def test_a_table_that_does_not_say_its_horizon_needs_one(tmp_path):
    """Finding: forgetting the horizon let overlapping label windows leak into training."""
    import pandas as pd

    from test_model_train import frame_over_time

    plain = tmp_path / "plain.csv"
    frame_over_time().to_csv(plain, index=False)
    result = runner.invoke(app, ["evaluate", "--dataset", str(plain), "--json"])
    assert result.exit_code != 0 and "--horizon-days" in result.output
    assert pd.read_csv(plain).shape[0] == 600


def test_loading_errors_are_one_clear_line_or_a_summary(tmp_path):
    """Finding: strict loading was a traceback; --no-strict silently rejected every event."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"type": "order.placed"}\n{"type": "nope"}\n{"event_id": 1}\n')
    common = ["build-dataset", "--events", str(path), "--out", str(tmp_path / "t.parquet"),
              "--start", "2026-01-01", "--end", "2026-02-01"]
    strict = runner.invoke(app, common)
    assert strict.exit_code == 1 and "line 1" in strict.output and "Traceback" not in strict.output
    lenient = runner.invoke(app, [*common, "--no-strict"])
    assert lenient.exit_code == 1 and "all 3 events were rejected" in lenient.output
    assert "line 1" in lenient.output and "Traceback" not in lenient.output


def test_score_exports_probability_bucket_and_drivers(tmp_path):
    """Finding: there was no command to score a table or an events file."""
    import datetime as dt

    import pandas as pd

    from model_event_factory import START

    events = _events_file(tmp_path, customers=150, days=150)
    table, registry_dir = tmp_path / "t.parquet", tmp_path / "registry"
    assert runner.invoke(app, ["build-dataset", "--events", str(events), "--out", str(table),
                               "--start", (START + dt.timedelta(days=35)).isoformat(),
                               "--end", (START + dt.timedelta(days=115)).isoformat()]).exit_code == 0
    trained = runner.invoke(app, ["train", "--dataset", str(table), "--registry", str(registry_dir), "--promote",
                                  "--no-tune", "--folds", "1"])
    assert trained.exit_code == 0, trained.output
    from_table = runner.invoke(app, ["score", "--table", str(table), "--out", str(tmp_path / "s.csv"),
                                     "--registry", str(registry_dir)])
    assert from_table.exit_code == 0, from_table.output
    scores = pd.read_csv(tmp_path / "s.csv")
    assert len(scores) == len(pd.read_parquet(table))
    assert {"customer_id", "observed_at", "probability", "bucket", "driver_1", "driver_1_contribution"} <= set(scores)
    assert scores["probability"].between(0, 1).all() and set(scores["bucket"]) <= {"low", "medium", "high"}
    as_of = (START + dt.timedelta(days=150)).isoformat()
    from_events = runner.invoke(app, ["score", "--events", str(events), "--as-of", as_of,
                                      "--out", str(tmp_path / "s.parquet"), "--registry", str(registry_dir)])
    assert from_events.exit_code == 0, from_events.output
    latest = pd.read_parquet(tmp_path / "s.parquet")
    assert latest["customer_id"].is_unique and len(latest) == 150


def test_evaluate_json_is_the_only_thing_on_stdout_even_with_sparse_plan_codes(tmp_path):
    """LightGBM's worker threads printed a sparse-categorical warning straight to stdout, before the JSON."""
    import datetime as dt
    import os
    import subprocess
    import sys
    from pathlib import Path

    from model_event_factory import START, population
    from models.dataset import LabelSpec, build_dataset
    from models.schedule import observation_dates
    from models.table_file import write_table

    dates = observation_dates(START + dt.timedelta(days=14), START + dt.timedelta(days=70), 7)
    table = build_dataset(population(120, 110, seed=3), dates, LabelSpec("activity", 14), progress=False)
    assert table["plan_code"].nunique() == 3  # three plans hashed to codes far apart: "sparse" to LightGBM
    path = tmp_path / "t.parquet"
    write_table(table, path)
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-m", "retain", "model", "evaluate", "--dataset", str(path), "--json",
                           "--no-tune", "--folds", "1"], capture_output=True, text=True, cwd=root, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["horizon_days"] == 14
