"""``retain rules backtest``: load rules, events and the model, run the backtest, print the report.

The command itself lives in ``triggers.cli``; this module holds its I/O (reading events with a
progress bar, loading the promoted scorer) and the rich tables, so the pure backtest stays pure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from infra.settings import ServingModelSettings
from triggers.backtest import BacktestReport


def raw_events(path: Path, *, progress: bool) -> Iterator[Any]:
    """Event records from a ``.jsonl`` (raw lines, parsed by the backtest) or ``.parquet`` file."""
    if path.suffix == ".jsonl":
        total = path.stat().st_size
        with path.open("rb") as lines, tqdm(total=total, unit="B", unit_scale=True, desc="backtest",
                                            disable=not progress) as bar:
            for line in lines:
                bar.update(len(line))
                if line.strip():
                    yield line
        return
    from simulator.writer import read_events
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(path).metadata.num_rows
    yield from tqdm(read_events(path), total=rows, unit="ev", desc="backtest", disable=not progress)


def load_scorer(model_dir: Path | None, serving: ServingModelSettings) -> tuple[Any, str]:
    """The promoted model's scorer (or None) and a line saying which one is used."""
    from models.registry import load_promoted  # late: LightGBM only when a model is used

    root = model_dir or serving.model_registry_path
    registered = load_promoted(root) if Path(root).exists() else None
    if registered is None:
        return None, f"no promoted model in {root}: rules see no risk score"
    from signals import features

    spec = features.from_settings(serving.features)
    if list(registered.model.feature_names) != list(spec.FEATURE_NAMES):
        return None, (f"model {registered.version} does not take the columns of the feature spec in force "
                      f"({spec.fingerprint}): rules see no risk score")
    scorer, line = registered.scorer(serving.risk_cut_points), f"model {registered.version} from {root}"
    from models import uplift_registry
    from models.uplift import ScorerWithUplift

    uplift = uplift_registry.load_promoted(root)
    if uplift is not None and list(uplift.model.feature_names) == list(spec.FEATURE_NAMES):
        return ScorerWithUplift(scorer, uplift.scorer()), f"{line}, uplift model {uplift.version}"
    return scorer, line


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counter.items()) or "-"


def print_report(report: BacktestReport, console: Console, *, model_line: str) -> None:
    """The report as rich tables: per rule, per day, collisions."""
    data = report.to_dict()
    console.print(f"[bold]{data['events']:,} events[/] ({data['malformed_events']:,} malformed), "
                  f"signals {_counts(data['signals'])}; {model_line}")
    rules = Table(title="per rule")
    for column in ("rule", "email", "sms", "holdout", "suppressed / expired / superseded by reason"):
        rules.add_column(column, justify="left" if column in ("rule",) or column.startswith("supp") else "right")
    for rule_id, parts in data["per_rule"].items():
        messages = parts.get("messages", {})
        rules.add_row(rule_id, f"{messages.get('email', 0):,}", f"{messages.get('sms', 0):,}",
                      f"{parts.get('outcomes', {}).get('holdout', 0):,}", _counts(parts.get("suppressed", {})))
    console.print(rules)
    days = Table(title="messages per day (by send day, UTC)")
    days.add_column("day")
    days.add_column("messages by rule and channel")
    for day, by_rule in data["per_day"].items():
        days.add_row(day, "; ".join(f"{rule}: {_counts(ch)}" for rule, ch in by_rule.items()))
    console.print(days)
    collisions = data["collisions"]
    console.print(f"signals matching several rules: {collisions['signals_matching_several_rules']:,}; "
                  f"superseded: {_counts(collisions['superseded'])}")
    console.print(f"[bold]{data['messages']:,} messages would go out[/] of {data['decisions']:,} decisions")


def print_targeting(per_rule: dict[str, dict[str, Any]], console: Console) -> None:
    """The risk-vs-uplift comparison at the same volume, one row per rule."""
    table = Table(title="targeting at the same volume: risk > x vs uplift > y")
    for column in ("rule", "messages", "x", "y (points)", "extra goals by risk", "extra goals by uplift", "overlap"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for rule_id, c in per_rule.items():
        if c.get("uplift_threshold") is None:
            table.add_row(rule_id, "0", f"{c['risk_threshold']:g}", "-", "-", "-", "-")
            continue
        table.add_row(rule_id, f"{c['messages']:,}", f"{c['risk_threshold']:g}", f"{c['uplift_threshold']:g}",
                      f"{c['risk']['predicted_extra_goals']:.1f}", f"{c['uplift']['predicted_extra_goals']:.1f}",
                      f"{c['overlap']:,}")
    console.print(table)
