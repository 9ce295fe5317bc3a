"""``retain model ...``: feature spec, datasets, training, evaluation, scoring and the registry.

One flag vocabulary across the commands (``HELP``): ``--events`` an events file, ``--table`` a
table file, ``--out`` what a command writes, ``--dataset`` telco / simulated[-product|-shop] /
a table file, ``--label-kind`` what churn means when building, ``--label-column`` which column
holds it when training, ``--spec`` a feature spec file. Progress bars go to stderr; ``--json``
puts one JSON object on stdout. Errors in input are one sentence, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from infra.native_stdout import stdout_to_stderr
from models import registry
from models.cli_output import json_ready, print_summary
from models.train import TrainConfig

app = typer.Typer(help="Churn-risk model: feature spec, datasets, training, evaluation, scoring, registry.",
                  no_args_is_help=True)
console = Console(stderr=True)

HELP = {
    "events": "events file: JSON lines (.jsonl) or Parquet",
    "table": "table file (.parquet or .csv), e.g. from build-dataset",
    "out": "output file (.parquet or .csv; .yaml for spec)",
    "dataset": "'telco', 'simulated', 'simulated-product', 'simulated-shop' or a table file",
    "spec": "feature spec file (YAML/JSON; default: RETAIN_FEATURE_SPEC, else the built-in spec)",
    "label-kind": "'activity' (none of --activity-types within the horizon) or 'subscription' (cancelled within it)",
    "activity-types": "comma-separated event types that count as activity for --label-kind activity",
    "label-column": "column of the table that holds the 0/1 label",
    "horizon-days": "label horizon in days (tables from build-dataset carry it; others need it)",
    "every": "observation schedule: a number of days (7, 7d), 'week' or 'month' (calendar months)",
    "dates": "comma-separated observation dates (ISO), instead of --start/--end/--every",
    "test-dates": "comma-separated observation dates to test on, one fold each",
    "test-from": "test on every observation date from this one on, one fold each",
    "folds": "rolling-origin folds: the latest N observation dates, one fold each",
    "tune": "tune LightGBM's parameters by cross-validation within --time-budget (else the fixed defaults)",
    "time-budget": "seconds the tuner may spend",
    "registry": "model registry directory (default: RETAIN_MODEL_REGISTRY_DIR or the data dir)",
    "strict": "stop at the first invalid event (else skip it and summarise the rejections)",
    "json": "print one JSON object on stdout",
    "calibration": "'platt' or 'isotonic'",
    "customers": "simulated customers",
    "days": "simulated days",
    "seed": "simulator seed",
    "as-of": "score events up to this time (ISO; default: the end of the events)",
    "version": "model version (default: the promoted one)",
    "force": "promote even when worse (recorded in the audit log)",
}


def _settings() -> Any:
    from infra.settings import get_settings

    return get_settings()


def _registry_dir(path: Optional[Path]) -> Path:
    if path is not None:
        return path
    settings = _settings()
    return settings.model_registry_dir or settings.data_dir / "models"


def _date(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or datetime: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _list(text: Optional[str]) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _spec(path: Optional[Path]) -> Any:
    from signals import features

    try:
        return features.compiled(path) if path is not None else features.from_settings(_settings().features)
    except features.SpecError as exc:
        _fail(str(exc))


def _config(calibration: str, tune: bool, time_budget: float) -> TrainConfig:
    return TrainConfig(calibration=calibration, tune_seconds=time_budget if tune else 0.0)


def _run(dataset: str, *, config: TrainConfig, label_column: str, horizon_days: Optional[float], folds: int,
         test_dates: Optional[str], test_from: Optional[str], customers: int, days: int, seed: int, progress: bool) -> Any:
    from models import runs
    from models.simulated import DATASETS

    dates = [_date(d) for d in _list(test_dates)] or None
    start = _date(test_from) if test_from else None
    try:
        if dataset == "telco":
            return runs.run_telco(config)
        if dataset in DATASETS:
            return runs.run_simulated(customers, days, seed, scenario=DATASETS[dataset], config=config, folds=folds,
                                      test_dates=dates, test_from=start, progress=progress)
        path = Path(dataset)
        if not path.exists():
            _fail(f"--dataset must be one of telco, {', '.join(DATASETS)} or an existing table file, not {dataset!r}")
        return runs.run_table(path, label_column=label_column, horizon_days=horizon_days, config=config, folds=folds,
                              test_dates=dates, test_from=start, progress=progress)
    except ValueError as exc:
        _fail(str(exc))


@app.command("spec")
def spec_command(
    events: Optional[Path] = typer.Option(None, "--events", help=HELP["events"]),
    out: Optional[Path] = typer.Option(None, "--out", help=HELP["out"]),
    spec: Optional[Path] = typer.Option(None, "--spec", help=HELP["spec"]),
    max_features: int = typer.Option(16, help="product features to track at most (most used first)"),
    strict: bool = typer.Option(True, "--strict/--no-strict", help=HELP["strict"]),
) -> None:
    """Write a feature spec to extend: the given (or built-in) one plus the product features found in --events."""
    import yaml

    from models.events_file import EventFileError, LoadReport, iter_events
    from signals import features

    base = _spec(spec).spec
    if events is not None:
        report = LoadReport()
        try:
            names = features.discover_usage_features(iter_events(events, report, strict=strict, progress=True),
                                                      top=max_features)
        except EventFileError as exc:
            _fail(str(exc))
        base = base.with_usage_features(names)
        console.print(f"product features found in {events.name}: {', '.join(names) or 'none'}")
    text = yaml.safe_dump(base.to_dict(), sort_keys=False)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        console.print(f"{len(features.CompiledSpec(base).FEATURE_NAMES)} features -> {out}")


@app.command("build-dataset")
def build_dataset_command(
    events: Path = typer.Option(..., "--events", exists=True, dir_okay=False, help=HELP["events"]),
    out: Path = typer.Option(..., "--out", help=HELP["out"]),
    start: Optional[str] = typer.Option(None, help="first observation date (ISO 8601; UTC if no offset)"),
    end: Optional[str] = typer.Option(None, help="last observation date"),
    every: str = typer.Option("7d", "--every", help=HELP["every"]),
    dates: Optional[str] = typer.Option(None, "--dates", help=HELP["dates"]),
    label_kind: str = typer.Option("activity", "--label-kind", help=HELP["label-kind"]),
    activity_types: Optional[str] = typer.Option(None, "--activity-types", help=HELP["activity-types"]),
    horizon_days: float = typer.Option(30.0, "--horizon-days", help=HELP["horizon-days"]),
    spec: Optional[Path] = typer.Option(None, "--spec", help=HELP["spec"]),
    strict: bool = typer.Option(True, "--strict/--no-strict", help=HELP["strict"]),
    max_lateness_hours: float = typer.Option(6.0, help="how far out of time order events may arrive"),
    as_json: bool = typer.Option(False, "--json", help=HELP["json"]),
) -> None:
    """Replay an events file once through the feature spec into a training table (every date in one pass)."""
    from models.dataset import ACTIVITY_TYPES, DatasetBuilder, LabelSpec
    from models.events_file import EventFileError, LoadReport, iter_events
    from models.schedule import observation_dates
    from models.table_file import TableWriter, check_table_path

    try:
        check_table_path(out)
        label = LabelSpec(kind=label_kind, horizon_days=horizon_days,
                          activity_types=tuple(_list(activity_types)) or ACTIVITY_TYPES)
        if dates:
            chosen = [_date(d) for d in _list(dates)]
        elif start and end:
            chosen = observation_dates(_date(start), _date(end), every)
        else:
            raise ValueError("give --start and --end (with --every), or --dates")
    except ValueError as exc:
        _fail(str(exc))
    compiled = _spec(spec)
    report = LoadReport()
    with TableWriter(out, []) as writer:
        builder = DatasetBuilder(chosen, label, compiled, max_lateness=dt.timedelta(hours=max_lateness_hours),
                                 on_block=writer.write)
        writer.columns = builder.columns
        try:
            for event in iter_events(events, report, strict=strict, progress=not as_json):
                builder.add(event)
            stats = builder.finish()
        except (EventFileError, ValueError) as exc:
            writer.meta = {"error": str(exc)}
            _fail(str(exc))
        writer.meta = builder.metadata(events=report.summary(), source=str(events))
    if report.rejected:
        console.print(report.describe(), highlight=False)
    if as_json:
        typer.echo(json.dumps(json_ready({"rows": stats.rows, "out": str(out), "build": vars(stats),
                                           "events": report.summary()})))
        return
    console.print(f"{stats.rows:,} rows at {len(chosen)} dates ({stats.censored_rows:,} censored), "
                  f"{stats.customers:,} customers, {stats.events:,} events ({stats.duplicates:,} duplicates, "
                  f"{stats.late_for_features:,} too late for their date) -> {out}", highlight=False)


# Options train and evaluate share: one definition each.
DatasetOpt = Annotated[str, typer.Option("--dataset", help=HELP["dataset"])]
CalibrationOpt = Annotated[str, typer.Option("--calibration", help=HELP["calibration"])]
LabelColumnOpt = Annotated[str, typer.Option("--label-column", help=HELP["label-column"])]
HorizonOpt = Annotated[Optional[float], typer.Option("--horizon-days", help=HELP["horizon-days"])]
TestDatesOpt = Annotated[Optional[str], typer.Option("--test-dates", help=HELP["test-dates"])]
TestFromOpt = Annotated[Optional[str], typer.Option("--test-from", help=HELP["test-from"])]
FoldsOpt = Annotated[int, typer.Option("--folds", help=HELP["folds"])]
TuneOpt = Annotated[bool, typer.Option("--tune/--no-tune", help=HELP["tune"])]
BudgetOpt = Annotated[float, typer.Option("--time-budget", help=HELP["time-budget"])]
CustomersOpt = Annotated[int, typer.Option("--customers", help=HELP["customers"])]
DaysOpt = Annotated[int, typer.Option("--days", help=HELP["days"])]
SeedOpt = Annotated[int, typer.Option("--seed", help=HELP["seed"])]


@app.command()
def train(
    dataset: DatasetOpt = "simulated",
    registry_dir: Annotated[Optional[Path], typer.Option("--registry", help=HELP["registry"])] = None,
    promote: Annotated[bool, typer.Option(help="try to promote the new version (gated)")] = False,
    force: Annotated[bool, typer.Option(help=HELP["force"])] = False,
    calibration: CalibrationOpt = "platt", label_column: LabelColumnOpt = "label", horizon_days: HorizonOpt = None,
    test_dates: TestDatesOpt = None, test_from: TestFromOpt = None, folds: FoldsOpt = 3, tune: TuneOpt = True,
    time_budget: BudgetOpt = 60.0, customers: CustomersOpt = 2000, days: DaysOpt = 150, seed: SeedOpt = 0,
) -> None:
    """Evaluate (rolling origin) and store the latest fold's model as a new registry version."""
    root = _registry_dir(registry_dir)
    run = _run(dataset, config=_config(calibration, tune, time_budget), label_column=label_column,
               horizon_days=horizon_days, folds=folds, test_dates=test_dates, test_from=test_from,
               customers=customers, days=days, seed=seed, progress=True)
    version = registry.save_run(root, run)
    console.print(f"stored version {version} in {root}")
    print_summary(json_ready(run.summary))
    if promote or force:
        result = registry.promote(root, version, force=force)
        console.print(("promoted: " if result.promoted else "not promoted: ") + result.reason)


@app.command()
def evaluate(
    dataset: DatasetOpt = "telco",
    as_json: Annotated[bool, typer.Option("--json", help=HELP["json"])] = False,
    calibration: CalibrationOpt = "platt", label_column: LabelColumnOpt = "label", horizon_days: HorizonOpt = None,
    test_dates: TestDatesOpt = None, test_from: TestFromOpt = None, folds: FoldsOpt = 3, tune: TuneOpt = True,
    time_budget: BudgetOpt = 60.0, customers: CustomersOpt = 2000, days: DaysOpt = 150, seed: SeedOpt = 0,
) -> None:
    """Report LightGBM beside the logistic baseline on the same rows, with intervals and the bar to clear."""
    # Native writes (LightGBM's worker threads) to fd 1 would corrupt the JSON on stdout.
    with stdout_to_stderr() if as_json else contextlib.nullcontext():
        run = _run(dataset, config=_config(calibration, tune, time_budget), label_column=label_column,
                   horizon_days=horizon_days, folds=folds, test_dates=test_dates, test_from=test_from,
                   customers=customers, days=days, seed=seed, progress=not as_json)
    summary = json_ready(run.summary)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    print_summary(summary)


@app.command()
def score(
    table: Optional[Path] = typer.Option(None, "--table", exists=True, dir_okay=False, help=HELP["table"]),
    events: Optional[Path] = typer.Option(None, "--events", exists=True, dir_okay=False, help=HELP["events"]),
    out: Path = typer.Option(..., "--out", help=HELP["out"]),
    as_of: Optional[str] = typer.Option(None, "--as-of", help=HELP["as-of"]),
    registry_dir: Optional[Path] = typer.Option(None, "--registry", help=HELP["registry"]),
    version: Optional[str] = typer.Option(None, "--version", help=HELP["version"]),
    top_drivers: int = typer.Option(3, help="drivers per row"),
    strict: bool = typer.Option(True, "--strict/--no-strict", help=HELP["strict"]),
) -> None:
    """Per-customer probability, risk bucket and top drivers from a table or an events file -> CSV/Parquet."""
    from models.events_file import EventFileError, LoadReport, iter_events
    from models.scoring import features_as_of, model_spec, score_table
    from models.table_file import check_table_path, read_table, write_table

    if (table is None) == (events is None):
        _fail("give exactly one of --table or --events")
    root = _registry_dir(registry_dir)
    try:
        check_table_path(out)
        registered = registry.load(root, version) if version else registry.load_promoted(root)
        if registered is None:
            _fail(f"no promoted model in {root}: train and promote one, or pass --version")
        if table is not None:
            frame = read_table(table)
        else:
            if as_of:
                when = _date(as_of)
            else:  # just after the last event: one quick pass to find it, then the fold
                when = max((e.occurred_at for e in iter_events(events, LoadReport(), strict=False)),
                           default=None)
                if when is None:
                    _fail(f"{events}: no valid events to score")
                when += dt.timedelta(microseconds=1)
            report = LoadReport()
            frame = features_as_of(iter_events(events, report, strict=strict, progress=True),
                                   model_spec(registered), when)
            if report.rejected:
                console.print(report.describe(), highlight=False)
        scores = score_table(frame, registered, cut_points=_settings().risk_cut_points, top=top_drivers,
                             progress=True)
    except (EventFileError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    write_table(scores, out, {"model_version": registered.version, "source": str(table or events)})
    console.print(f"{len(scores):,} customers scored with {registered.version} -> {out}")


@app.command("promote")
def promote_command(
    version: str = typer.Argument(..., help="version id (see `list`)"),
    registry_dir: Optional[Path] = typer.Option(None, "--registry", help=HELP["registry"]),
    force: bool = typer.Option(False, help=HELP["force"]),
    reason: str = typer.Option("", help="why (kept in the audit log)"),
    holdout: Optional[Path] = typer.Option(None, "--table", exists=True, dir_okay=False,
                                           help=HELP["table"] + " to compare both models on"),
    label_column: str = typer.Option("label", "--label-column", help=HELP["label-column"]),
) -> None:
    """Make a version the serving model if it is not worse than the current one."""
    from models.table_file import read_table

    frame = read_table(holdout) if holdout is not None else None
    result = registry.promote(_registry_dir(registry_dir), version, holdout=frame, label=label_column, force=force,
                              reason=reason)
    console.print(("promoted: " if result.promoted else "refused: ") + result.reason)
    if not result.promoted:
        raise typer.Exit(code=1)


@app.command("evaluate-uplift")
def evaluate_uplift(
    dataset: Annotated[str, typer.Option("--dataset", help=HELP["dataset"] + " (here: 'simulated', the "
                                         "simulator's randomised messages with true effects, or an uplift table "
                                         "from `retain rules uplift-data`)")] = "simulated",
    as_json: Annotated[bool, typer.Option("--json", help=HELP["json"])] = False,
    budget: Annotated[float, typer.Option("--budget", min=0.01, max=1.0,
                                          help="message budget: the share of held-out rows messaged")] = 0.2,
    holdout_share: Annotated[float, typer.Option("--holdout-share", min=0.05, max=0.9,
                                                 help="share of customers held out for evaluation")] = 0.3,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=10, help="bootstrap resamples")] = 200,
    registry_dir: Annotated[Optional[Path], typer.Option("--registry", help=HELP["registry"])] = None,
    save: Annotated[bool, typer.Option(help="store the model as a new uplift version in the registry")] = False,
    promote: Annotated[bool, typer.Option(help="try to promote the new version (gated on Qini; stored first)")] = False,
    force: Annotated[bool, typer.Option(help=HELP["force"])] = False,
    customers: CustomersOpt = 3000, days: DaysOpt = 150, seed: SeedOpt = 0,
) -> None:
    """Uplift model vs churn-risk and random targeting (and the simulator's oracle): Qini, AUUC, retained per 1,000."""
    from tqdm import tqdm

    from models import uplift_registry
    from models.uplift_runs import evaluate_table

    with stdout_to_stderr() if as_json else contextlib.nullcontext():
        try:
            if dataset == "simulated":
                from models.uplift_simulated import simulated_uplift

                data = simulated_uplift(customers, days, seed, progress=not as_json)
                table, names, cats, source = data.table, data.feature_names, data.categorical, data.source
            else:
                from models.uplift_data import read_uplift_table

                table, names, cats, source = read_uplift_table(Path(dataset))
            with tqdm(total=bootstrap, desc="bootstrap", unit="resample", disable=as_json) as bar:
                summary, model = evaluate_table(table, names, cats, holdout_share=holdout_share, budget=budget,
                                                n_boot=bootstrap, seed=seed, progress=bar)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
    summary["dataset"] = source
    if save or promote or force:
        root = _registry_dir(registry_dir)
        version = uplift_registry.save(root, model, metrics={k: summary[k] for k in summary if k.startswith(
            ("qini", "auuc", "oracle", "retained"))}, fingerprint=summary["fingerprint"], extra={"dataset": source})
        summary["version"] = version
        if promote or force:
            result = uplift_registry.promote(root, version, force=force)
            summary["promoted"], summary["promotion"] = result.promoted, result.reason
    if as_json:
        typer.echo(json.dumps(json_ready(summary)))
        return
    _print_uplift(summary)


def _print_uplift(summary: dict[str, Any]) -> None:
    table = Table(title=f"targeting policies on {summary['rows_test']:,} held-out rows "
                        f"({summary['customers_test']:,} customers), budget {summary['budget_share']:.0%}")
    for column in ("policy", "qini", f"{summary['confidence']:.0%} interval", "retained / 1,000 messages"):
        table.add_column(column, justify="right" if column != "policy" else "left")
    retained = summary["retained_per_1000_messages"]
    rows = [("uplift model", "qini", "uplift"), ("churn risk", "qini_risk_targeting", "risk"),
            ("random", "qini_random", "random"), ("oracle (true effect)", "oracle_qini", "oracle"),
            ("observable ceiling", "observable_ceiling_qini", "observable")]
    for label, key, name in rows:
        if key not in summary:
            continue
        lo, hi = summary.get(f"{key}_interval", [float("nan")] * 2)
        table.add_row(label, f"{summary[key]:.5f}", f"[{lo:.5f}, {hi:.5f}]", f"{retained.get(name, float('nan')):.1f}")
    Console().print(table)
    if "qini_minus_risk_targeting" in summary:
        lo, hi = summary["qini_minus_risk_targeting_interval"]
        verdict = "better" if lo > 0 else "worse" if hi < 0 else "not distinguishable at this size"
        Console().print(f"uplift model - churn risk: Qini {summary['qini_minus_risk_targeting']:+.5f} "
                        f"[{lo:+.5f}, {hi:+.5f}] (paired): {verdict}")
    Console().print(f"mean uplift predicted {summary['predicted_mean_uplift']:+.4f}, measured "
                    f"{summary['measured_mean_uplift']:+.4f}; retained per 1,000 from {summary['retained_per_1000_basis']}")
    bins = summary.get("uplift_calibration") or []
    if bins:
        text = ", ".join(f"{b['predicted'] * 100:+.1f} -> " + ("n/a" if b["measured"] is None else
                                                              f"{b['measured'] * 100:+.1f}") for b in bins)
        Console().print(f"calibration by quintile of predicted uplift (points, predicted -> measured): {text}")
    if "version" in summary:
        Console().print(f"stored uplift version {summary['version']}"
                        + (f"; {'promoted' if summary.get('promoted') else 'not promoted'}: {summary['promotion']}"
                           if "promotion" in summary else ""))


@app.command("list")
def list_command(registry_dir: Optional[Path] = typer.Option(None, "--registry", help=HELP["registry"])) -> None:
    """Versions in the registry, the serving one marked."""
    table = Table("*", "dataset", "auc", "brier", "base auc")
    table.add_column("version", no_wrap=True, min_width=26)  # created (UTC) - data fingerprint
    for card in registry.list_versions(_registry_dir(registry_dir)):
        m, b = card["metrics"], card.get("baseline_metrics", {})
        table.add_row("*" if card["promoted"] else "", str(card.get("dataset", {}).get("name", "")),
                      f"{m['auc']:.4f}", f"{m['brier']:.4f}", f"{b.get('auc', float('nan')):.4f}", card["version"])
    Console().print(table)
