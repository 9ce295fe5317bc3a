"""``retain model ...``: build datasets, train, evaluate, promote and list churn-risk models."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from models import registry
from models.dataset import LabelSpec, build_dataset, load_events, observation_dates
from models.train import TrainConfig

app = typer.Typer(help="Churn-risk model: datasets, training, evaluation, registry.", no_args_is_help=True)
console = Console(stderr=True)


def _registry_dir(path: Optional[Path]) -> Path:
    if path is not None:
        return path
    from infra.settings import get_settings

    settings = get_settings()
    return settings.model_registry_dir or settings.data_dir / "models"


def _date(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _json_ready(value: Any) -> Any:
    # JSON has no NaN: print null rather than an invalid document.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def _run(dataset: str, *, customers: int, days: int, seed: int, calibration: str, label: str, progress: bool,
         horizon_days: float = 30.0) -> Any:
    from models import runs

    config = TrainConfig(calibration=calibration)
    if dataset == "telco":
        return runs.run_telco(config)
    if dataset == "simulated":
        return runs.run_simulated(customers, days, seed, config=config, progress=progress)
    path = Path(dataset)
    if not path.exists():
        raise typer.BadParameter(f"--dataset must be 'telco', 'simulated' or an existing table file, not {dataset!r}")
    return runs.run_table(path, label=label, horizon_days=horizon_days, config=config)


@app.command("build-dataset")
def build_dataset_command(
    events: Path = typer.Argument(..., exists=True, help="events file: JSON lines or Parquet"),
    out: Path = typer.Argument(..., help="output table (.parquet or .csv)"),
    start: str = typer.Option(..., help="first observation date (ISO 8601; UTC if no offset)"),
    end: str = typer.Option(..., help="last observation date"),
    every_days: float = typer.Option(7.0, help="days between observation dates"),
    label: str = typer.Option("activity", help="'activity' (no activity within horizon) or 'subscription' (cancelled within horizon)"),
    horizon_days: float = typer.Option(30.0, help="label horizon in days"),
    strict: bool = typer.Option(True, help="stop at the first invalid event (else skip and count it)"),
) -> None:
    """Replay an events file through the feature fold into a training table."""
    spec = LabelSpec(kind=label, horizon_days=horizon_days)  # type: ignore[arg-type]
    loaded = load_events(events, strict=strict, progress=True)
    table = build_dataset(loaded.events, observation_dates(_date(start), _date(end), every_days), spec)
    if out.suffix == ".csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    console.print(f"{len(table)} rows, churn rate {table['label'].mean():.3f}, "
                  f"{len(loaded.rejected)} events rejected -> {out}")


@app.command()
def train(
    dataset: str = typer.Option("simulated", help="'telco', 'simulated' or a table file built by build-dataset"),
    registry_dir: Optional[Path] = typer.Option(None, "--registry", help="model registry directory"),
    promote: bool = typer.Option(False, help="try to promote the new version (gated)"),
    force: bool = typer.Option(False, help="promote even when worse (recorded in the audit log)"),
    calibration: str = typer.Option("platt", help="'platt' or 'isotonic'"),
    label: str = typer.Option("label", help="label column of a table file"),
    horizon_days: float = typer.Option(30.0, help="label horizon of a table file (embargo before its test dates)"),
    customers: int = typer.Option(2000, help="simulated customers"),
    days: int = typer.Option(150, help="simulated days"),
    seed: int = typer.Option(0, help="simulator seed"),
) -> None:
    """Train LightGBM + calibration (and the baseline), store it as a new registry version."""
    root = _registry_dir(registry_dir)
    run = _run(dataset, customers=customers, days=days, seed=seed, calibration=calibration, label=label, progress=True,
               horizon_days=horizon_days)
    version = registry.save_run(root, run)
    console.print(f"stored version {version} in {root}")
    console.print_json(json.dumps(_json_ready(run.summary)))
    if promote or force:
        result = registry.promote(root, version, force=force)
        console.print(("promoted: " if result.promoted else "not promoted: ") + result.reason)


@app.command()
def evaluate(
    dataset: str = typer.Option("telco", help="'telco', 'simulated' or a table file"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object on stdout"),
    calibration: str = typer.Option("platt", help="'platt' or 'isotonic'"),
    label: str = typer.Option("label", help="label column of a table file"),
    horizon_days: float = typer.Option(30.0, help="label horizon of a table file (embargo before its test dates)"),
    customers: int = typer.Option(2000, help="simulated customers"),
    days: int = typer.Option(150, help="simulated days"),
    seed: int = typer.Option(0, help="simulator seed"),
) -> None:
    """Train on a dataset and report the model beside the logistic baseline on the same test rows."""
    run = _run(dataset, customers=customers, days=days, seed=seed, calibration=calibration, label=label,
               progress=not as_json, horizon_days=horizon_days)
    summary = _json_ready(run.summary)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    table = Table("metric", "model", "baseline")
    for key in ("auc", "pr_auc", "brier", "log_loss", "lift_top10", "capture_top10", "lift_top20", "capture_top20"):
        table.add_row(key, f"{summary[key]:.4f}", f"{summary['baseline_' + key]:.4f}")
    Console().print(table)
    Console().print({k: v for k, v in summary.items() if not k.startswith("baseline_") and k not in table.columns})


@app.command("promote")
def promote_command(
    version: str = typer.Argument(..., help="version id (see `list`)"),
    registry_dir: Optional[Path] = typer.Option(None, "--registry", help="model registry directory"),
    force: bool = typer.Option(False, help="promote even when worse (recorded)"),
    reason: str = typer.Option("", help="why (kept in the audit log)"),
    holdout: Optional[Path] = typer.Option(None, help="table (.parquet/.csv) to compare both models on"),
    label: str = typer.Option("label", help="label column of the holdout"),
) -> None:
    """Make a version the serving model if it is not worse than the current one."""
    import pandas as pd

    frame = None
    if holdout is not None:
        frame = pd.read_parquet(holdout) if holdout.suffix == ".parquet" else pd.read_csv(holdout)
    result = registry.promote(_registry_dir(registry_dir), version, holdout=frame, label=label, force=force, reason=reason)
    console.print(("promoted: " if result.promoted else "refused: ") + result.reason)
    if not result.promoted:
        raise typer.Exit(code=1)


@app.command("list")
def list_command(registry_dir: Optional[Path] = typer.Option(None, "--registry", help="model registry directory")) -> None:
    """Versions in the registry, the serving one marked."""
    table = Table("*", "dataset", "auc", "brier", "base auc")
    table.add_column("version", no_wrap=True, min_width=26)  # created (UTC) - data fingerprint
    for card in registry.list_versions(_registry_dir(registry_dir)):
        m, b = card["metrics"], card.get("baseline_metrics", {})
        table.add_row("*" if card["promoted"] else "", str(card.get("dataset", {}).get("name", "")),
                      f"{m['auc']:.4f}", f"{m['brier']:.4f}", f"{b.get('auc', float('nan')):.4f}", card["version"])
    Console().print(table)
