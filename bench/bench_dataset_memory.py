"""Peak memory of ``retain model build-dataset`` on a large events file, beside baselines from the same run.

    .venv/bin/python bench/bench_dataset_memory.py [--customers 57000 --days 200]   # ~10 M events

Simulates an events file (JSON lines, the default scenario; reused if it exists), then measures,
each in a fresh process (peak RSS from ``resource.getrusage``):

- parse only: read and validate every event, keep none (the floor any builder pays for Python,
  pydantic and the libraries);
- streaming build: the real ``build-dataset`` (weekly dates, 30-day horizon, Parquet out);
- hold every event (how the builder worked before): the first ``--hold`` events kept in a list,
  extrapolated per event to the whole file.

Prints events, rows, seconds and peak RSS, and the ratios to the parse-only baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PARSE_ONLY = """
import resource, sys, time
from models.events_file import LoadReport, iter_events
start = time.perf_counter()
n = sum(1 for _ in iter_events(sys.argv[1], LoadReport(), strict=False))
print(n, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

_HOLD = """
import itertools, resource, sys, time
from models.events_file import LoadReport, iter_events
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start = time.perf_counter()
kept = list(itertools.islice(iter_events(sys.argv[1], LoadReport(), strict=False), int(sys.argv[2])))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(len(kept), time.perf_counter() - start, after, (after - before) / len(kept))
"""

_BUILD = """
import datetime as dt, resource, sys, time
from typer.testing import CliRunner
from models.cli import app
start = time.perf_counter()
result = CliRunner().invoke(app, ["build-dataset", "--events", sys.argv[1], "--out", sys.argv[2], "--start", sys.argv[3],
                                  "--end", sys.argv[4], "--every", "7d", "--json", "--no-strict"])
assert result.exit_code == 0, result.output
print(result.stdout.strip().splitlines()[-1])
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _python(code: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, check=True, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return out.stdout.strip().splitlines()


def main() -> None:
    """Simulate (or reuse) the file, run the three measurements, print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=57_000)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--hold", type=int, default=500_000, help="events the hold-everything baseline keeps")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/retain-bench-dataset"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    events = args.dir / f"events-{args.customers}-{args.days}-{args.seed}.jsonl"
    if not events.exists():
        subprocess.run([sys.executable, "-m", "retain", "simulate", "--customers", str(args.customers), "--days",
                        str(args.days), "--seed", str(args.seed), "--out", str(events)], cwd=ROOT, check=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, stdout=subprocess.DEVNULL)
    from simulator.engine import DEFAULT_START
    import datetime as dt

    start = (DEFAULT_START + dt.timedelta(days=35)).isoformat()
    end = (DEFAULT_START + dt.timedelta(days=args.days - 30)).isoformat()

    n, parse_s, parse_rss = _python(_PARSE_ONLY, str(events))[0].split()
    n, parse_s, parse_rss = int(n), float(parse_s), int(parse_rss)
    built, timing = _python(_BUILD, str(events), str(args.dir / "table.parquet"), start, end)
    build = json.loads(built)
    build_s, build_rss = (float(v) for v in timing.split())
    held, hold_s, hold_rss, per_event = _python(_HOLD, str(events), str(args.hold))[0].split()
    per_event = float(per_event)
    gib = 1024 ** 3
    print(f"{n:,} events, {build['rows']:,} rows for {build['build']['customers']:,} customers")
    print(f"{'':<34}{'seconds':>10}{'peak RSS GiB':>14}{'x parse-only':>14}")
    print(f"{'parse only (baseline)':<34}{parse_s:>10.0f}{parse_rss / gib:>14.2f}{1.0:>14.2f}")
    print(f"{'streaming build-dataset':<34}{build_s:>10.0f}{build_rss / gib:>14.2f}{build_rss / parse_rss:>14.2f}")
    extrapolated = float(hold_rss) + per_event * (n - int(held))
    print(f"{'hold every event (before)':<34}{'':>10}{extrapolated / gib:>14.2f}{extrapolated / parse_rss:>14.2f}"
          f"   ({per_event:,.0f} B/event measured on {int(held):,} events, extrapolated)")
    print(f"streaming build: {n / build_s:,.0f} events/s; under 2 GiB: {build_rss < 2 * gib}")


if __name__ == "__main__":
    main()
