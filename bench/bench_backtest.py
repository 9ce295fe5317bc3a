"""Throughput of ``retain rules backtest`` against the fold the worker runs, same events, same run.

Simulates a history with ``simulator`` (not timed), then, on one core:

(a) baseline: parse every event and replay it through the worker's fold
    (``signals.customer_fold.replay`` with the default detectors and features, which attaches
    the feature values to every signal), discarding the signals;
(b) the backtest: the same parse and replay, with the features folded aside and read only for
    the signals it scores (when ``--model`` names a registry with a promoted model), ``decide``
    with history, and the report (``triggers.backtest.run_backtest``).

Prints events/s of each, the ratio (b)/(a), and the projected time of 1 million events. Times
are CPU seconds of this process (``time.process_time``), so other load on a shared machine
distorts them less. The target is 1 M events in under a minute with a model; without one,
(b) skips the features altogether.

    .venv/bin/python bench/bench_backtest.py [--events 200000] [--days 60] [--model DIR] [--repeat 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simulator import Simulator
from signals.customer_fold import default_fold, replay
from signals.events import parse_event
from triggers.backtest import run_backtest
from triggers.loader import load_rules

RULES = Path(__file__).resolve().parents[1] / "rules"
EVENTS_PER_CUSTOMER_DAY = 1.34  # measured on the simulator's defaults


def simulate(n_events: int, days: int, seed: int) -> list[dict[str, Any]]:
    """About ``n_events`` simulated events (whole customers, so the stream stays realistic)."""
    customers = max(10, round(n_events / (EVENTS_PER_CUSTOMER_DAY * days)))
    events = []
    with tqdm(total=days, unit="day", desc=f"simulating {customers:,} customers") as bar:
        for event in Simulator(customers, days, seed).run(progress=bar):
            events.append(event)
    return events


def baseline(events: list[dict[str, Any]]) -> int:
    """Parse and fold only; returns the number of signals."""
    return sum(1 for _ in replay((parse_event(e) for e in events), default_fold()))


def load_model(model_dir: Path | None) -> Any:
    """The promoted scorer of ``model_dir``, or None."""
    if model_dir is None:
        return None
    from models.registry import load_promoted

    registered = load_promoted(model_dir)
    return registered.scorer() if registered else None


def best_of(repeat: int, work: Any) -> tuple[float, float, Any]:
    """(fastest CPU seconds, fastest wall seconds, last result) of ``repeat`` runs."""
    best, best_wall, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        started, started_wall = time.process_time(), time.perf_counter()
        result = work()
        best = min(best, time.process_time() - started)
        best_wall = min(best_wall, time.perf_counter() - started_wall)
    return best, best_wall, result


def main() -> None:
    """Simulate, measure, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, default=None, help="model registry folder (scores every signal)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    events = simulate(args.events, args.days, args.seed)
    rules = load_rules(RULES)
    scorer = load_model(args.model)
    n = len(events)
    base_s, base_wall, signals = best_of(args.repeat, lambda: baseline(events))
    full_s, full_wall, report = best_of(args.repeat, lambda: run_backtest(events, rules, scorer=scorer))
    print(f"events: {n:,}, signals: {signals:,}, decisions: {sum(report.outcomes.values()):,}, "
          f"messages: {report.messages:,}, model: {'yes' if scorer else 'no'}, best of {args.repeat}")
    print(f"(a) parse + fold baseline : {n / base_s:10,.0f} events/s  -> 1M events in {1e6 * base_s / n:6.1f} s CPU"
          f" ({1e6 * base_wall / n:.1f} s wall)")
    print(f"(b) full backtest         : {n / full_s:10,.0f} events/s  -> 1M events in {1e6 * full_s / n:6.1f} s CPU"
          f" ({1e6 * full_wall / n:.1f} s wall)")
    print(f"ratio (b)/(a) time: {full_s / base_s:.2f}  (1.00 = the backtest adds nothing to the fold)")


if __name__ == "__main__":
    main()
