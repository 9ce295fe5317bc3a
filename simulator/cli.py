"""``retain simulate``: write a simulated event history and its ground-truth labels."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from simulator.arrival_noise import ArrivalNoise
from simulator.engine import DEFAULT_START, Simulator
from simulator.writer import check_suffix, labels_path, write_events, write_labels


def _parse_start(value: str) -> dt.datetime:
    try:
        start = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or datetime: {value!r}", param_hint="--start") from None
    return start if start.tzinfo else start.replace(tzinfo=dt.timezone.utc)


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Events file: .jsonl or .parquet")],
    customers: Annotated[int, typer.Option("--customers", min=1, help="Population size")] = 1000,
    days: Annotated[int, typer.Option("--days", min=1, help="Simulated days")] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes")] = 0,
    start: Annotated[str, typer.Option("--start", help="First simulated instant (ISO, UTC if naive)")] = DEFAULT_START.isoformat(),
    horizon_days: Annotated[int, typer.Option("--horizon-days", min=1, help="Churn label horizon")] = 30,
    duplicates: Annotated[float, typer.Option("--duplicates", min=0.0, max=1.0, help="Share re-sent")] = 0.002,
    late: Annotated[float, typer.Option("--late", min=0.0, max=1.0, help="Share arriving late")] = 0.005,
    malformed: Annotated[bool, typer.Option("--malformed/--no-malformed", help="Add rare broken events")] = False,
    scenario: Annotated[str, typer.Option("--scenario", help="default, product (churn depends on the product "
                                          "features used) or shop (orders only)")] = "default",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar")] = False,
) -> None:
    """Simulate a customer population and write its events plus churn labels beside them."""
    try:
        check_suffix(out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    noise = ArrivalNoise(duplicate_share=duplicates, late_share=late, malformed_share=0.001 if malformed else 0.0)
    try:
        sim = Simulator(customers, days, seed, _parse_start(start), noise=noise, horizon_days=horizon_days,
                        scenario=scenario)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from None
    counts: Counter[str] = Counter()

    def counted(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for event in events:
            counts[str(event.get("type"))] += 1
            yield event

    with tqdm(total=days, unit="day", desc="simulating", disable=quiet) as bar:
        total = write_events(out, counted(sim.run(progress=bar)))
    labels = sim.labels()
    write_labels(labels_path(out), labels)
    _print_summary(counts, total, out, len(labels), sum(row["churned"] for row in labels))
    if sim.malformed_count:
        Console().print(f"malformed demo events: {sim.malformed_count:,} (counted under their type above)")


def _print_summary(counts: Counter[str], total: int, out: Path, n_labels: int, n_churned: int) -> None:
    table = Table(title=f"{total:,} events")
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(type_, f"{n:,}")
    console = Console()
    console.print(table)
    console.print(f"events -> {out}")
    if n_labels:
        console.print(f"labels: {n_labels:,} rows ({n_churned:,} churned) -> {labels_path(out)}")
    else:
        console.print("labels: none (the run is shorter than first observation + horizon)")
