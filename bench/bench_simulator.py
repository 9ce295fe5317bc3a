"""Simulator throughput: events/s generated and written, against a bare emit loop in the same run.

The baseline builds the same number of event dicts (id, customer, ISO time, small payload) and
serialises them to JSON, with no behaviour at all: the floor cost of emitting an event in
Python. Ratios say how much the simulation itself costs on top.

    .venv/bin/python bench/bench_simulator.py --customers 2000 --days 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from simulator import Simulator
from simulator.writer import write_events


def _baseline(n: int) -> float:
    start = time.perf_counter()
    t0 = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc).timestamp()
    for i in range(n):
        at = dt.datetime.fromtimestamp(t0 + i, dt.timezone.utc).isoformat(timespec="milliseconds")
        json.dumps({"event_id": f"evt_{i}", "customer_id": f"cus_{i % 1000:06d}", "type": "product.usage",
                    "occurred_at": at, "properties": {"sessions": 3, "day": at[:10]}}, separators=(",", ":"))
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print events/s and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    with tqdm(total=args.days, unit="day", desc="generate") as bar:
        n = sum(1 for _ in Simulator(args.customers, args.days, args.seed).run(progress=bar))
    generate = time.perf_counter() - start
    baseline = _baseline(n)
    rows = [("bare emit loop (baseline)", baseline), ("simulate", generate)]
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".jsonl", ".parquet"):
            start = time.perf_counter()
            write_events(Path(tmp) / f"events{suffix}", Simulator(args.customers, args.days, args.seed).run())
            rows.append((f"simulate + write {suffix}", time.perf_counter() - start))
    print(f"\n{n:,} events ({args.customers:,} customers x {args.days} days)")
    for name, seconds in rows:
        print(f"{name:28s} {seconds:7.2f} s  {n / seconds:>10,.0f} events/s  x{seconds / baseline:5.1f} baseline time")


if __name__ == "__main__":
    main()
