"""Stream fold throughput of 1 worker process against N worker processes on one external broker.

    .venv/bin/python bench/bench_scale_out.py [--events 40000] [--customers 4000] [--workers 2] [--json]

A Tansu broker runs as its own process; its ``events`` topic (``--workers`` x 2 partitions) is
filled once with the event mix of ``bench_worker.py``. Then the same topic is read twice by
``python -m retain.worker --signals-only`` processes (parse, fold with every detector and
feature, state changelog, signals), each time under a fresh application id, i.e. from the start:

1. baseline: one worker process,
2. ``--workers`` processes in one consumer group (the partitions split between them).

Rate = events folded / seconds from the first folded event seen in any worker's stats file to
the last (start-up and group join excluded; stats are written every 0.5 s). Goal (issue 11):
N workers >= 0.9 x N x one worker, on N free cores. The broker and this script share the
machine's cores with the workers, so the figure is honest only on a machine with cores to spare:
the core count and load are printed with the result.

Where cores are short, what scaling out costs is still measurable: each worker's CPU time (from
``/proc``, Linux) over the same interval. ``cpu efficiency`` = CPU seconds per event of one worker
/ of N workers (1.0: splitting the partitions adds no work per event; coordination, duplicate
reads or rebalances would lower it), and ``balance`` = mean / max events per worker. On N free
cores the N-worker rate is about N x one worker x min(efficiency, 1) x balance: printed as the
projection, beside the measured ratio, never in its place.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_worker import make_events  # noqa: E402
from infra.broker import EmbeddedBroker, ensure_topics  # noqa: E402
from retain.worker import WorkerProcess  # noqa: E402


async def fill(bootstrap: str, events: list[tuple[bytes, bytes]], partitions: int) -> None:
    await ensure_topics(bootstrap, {"events": partitions, "signals": partitions, "deadletter": partitions,
                                    "quarantine": partitions, "decisions": partitions})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        for key, value in tqdm(events, desc="fill events topic", file=sys.stderr, leave=False):
            await producer.send("events", value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a live process (Linux ``/proc``), or None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _cpu(procs: list[WorkerProcess]) -> float | None:
    seconds = [cpu_seconds(p.pid) for p in procs]
    return None if any(s is None for s in seconds) else sum(seconds)


def run(broker: EmbeddedBroker, data: Path, workers: int, total: int, partitions: int,
        timeout: float = 300.0) -> dict[str, Any]:
    """Start ``workers`` processes on a fresh group; the folded-events rate once all were read."""
    app_id = f"bench-scale-{workers}-{uuid.uuid4().hex[:6]}"
    env = {"RETAIN_APP_ID": app_id, "RETAIN_TOPIC_PARTITIONS": str(partitions), "RETAIN_DATA_DIR": str(data),
           "RETAIN_STREAM_SESSION_TIMEOUT_SECONDS": "6", "RETAIN_STREAM_REBALANCE_TIMEOUT_SECONDS": "6"}
    procs = [WorkerProcess(broker_url=broker.url, data_dir=data, name=f"{app_id}-{i}", signals_only=True,
                           env=env).start() for i in range(workers)]
    first: float | None = None
    cpu_first: float | None = None
    progress = tqdm(total=total, desc=f"{workers} worker(s)", file=sys.stderr, leave=False)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = [p.stats() or {} for p in procs]
            folded = sum(s.get("events", 0) for s in stats)
            progress.n = folded
            progress.refresh()
            if folded and first is None:
                first = min(s["at"] for s in stats if s.get("events"))
                cpu_first, folded_first = _cpu(procs), folded
            if folded >= total:
                last = max(s["at"] for s in stats)
                cpu_last = _cpu(procs)
                split = [s.get("events", 0) for s in stats]
                break
            time.sleep(0.1)  # polling the stats files
        else:
            raise RuntimeError(f"{workers} worker(s) folded {folded} of {total} in {timeout}s")
    finally:
        progress.close()
        for p in procs:
            p.terminate()
    assert first is not None
    seconds = max(last - first, 1e-3)
    cpu_per_event = None
    if cpu_first is not None and cpu_last is not None and total > folded_first:
        cpu_per_event = (cpu_last - cpu_first) / (total - folded_first)
    return {"workers": workers, "events": total, "per_worker": split, "seconds": round(seconds, 2),
            "per_second": round(total / seconds, 1),
            "cpu_ms_per_1000_events": None if cpu_per_event is None else round(1e6 * cpu_per_event, 1),
            "balance": round(sum(split) / len(split) / max(split), 3) if max(split) else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--customers", type=int, default=4_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="machine-readable result on stdout")
    args = parser.parse_args()

    partitions = 2 * args.workers
    events = make_events(args.events, args.customers)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(Path(tmp) / "broker") as broker:
        asyncio.run(fill(broker.bootstrap, events, partitions))
        one = run(broker, Path(tmp) / "one", 1, len(events), partitions)
        many = run(broker, Path(tmp) / "many", args.workers, len(events), partitions)
    ratio = many["per_second"] / one["per_second"]
    efficiency = projected = None
    if one["cpu_ms_per_1000_events"] and many["cpu_ms_per_1000_events"]:
        efficiency = one["cpu_ms_per_1000_events"] / many["cpu_ms_per_1000_events"]
        # Capped at 1: fewer CPU seconds per event with N workers is the busier machine's bigger
        # fetch batches, not something N free cores would keep.
        projected = args.workers * min(efficiency, 1.0) * many["balance"]
    machine = {"cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps({"one": one, "many": many, "ratio": round(ratio, 2), "goal_ratio": 0.9 * args.workers,
                          "cpu_efficiency": efficiency and round(efficiency, 3),
                          "projected_ratio_on_free_cores": projected and round(projected, 2), "machine": machine},
                         indent=2))
        return
    print(f"{len(events)} events, {args.customers} customers, {partitions} partitions, external Tansu broker; "
          f"{machine['cores']} cores, load {machine['load_1min']} (1 min)")
    print(f"{'run':<14} {'seconds':>8} {'events/s':>10} {'cpu ms/1k ev':>13} per worker")
    for name, row in (("1 worker", one), (f"{args.workers} workers", many)):
        cpu = row["cpu_ms_per_1000_events"]
        print(f"{name:<14} {row['seconds']:>8.2f} {row['per_second']:>10.0f} "
              f"{'n/a' if cpu is None else f'{cpu:.0f}':>13} {row['per_worker']}")
    goal = 0.9 * args.workers
    print(f"ratio {args.workers} / 1: {ratio:.2f}x (goal >= {goal:.1f}x: {'met' if ratio >= goal else 'NOT met'})")
    if efficiency is not None:
        print(f"cpu efficiency {efficiency:.2f} (cpu per event, 1 worker / {args.workers}), balance "
              f"{many['balance']:.2f}: projected on {args.workers} free cores {projected:.2f}x "
              f"(goal >= {goal:.1f}x: {'met' if projected >= goal else 'NOT met'}; a projection, not a measurement)")
    if (machine["cores"] or 1) <= args.workers:
        print(f"note: {args.workers} workers, the broker and this script share {machine['cores']} cores here, so "
              "the workers cannot each have a core of their own; this machine cannot show the goal either way")


if __name__ == "__main__":
    main()
