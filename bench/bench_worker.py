"""Worker throughput on the embedded broker, against two baselines measured in the same run.

    .venv/bin/python bench/bench_worker.py [--events 50000] [--customers 5000] [--profile out.prof]

One pre-filled ``events`` topic is read three times (a fresh consumer group each time):

1. a plain aiokafka consumer loop that JSON-decodes each record (the ceiling),
2. a no-op agent on stock ``faust.App`` (Faust's own per-record cost, as shipped),
3. a no-op agent on ``RetainApp`` (Faust with eager record delivery, infra/stream_consumer.py:
   the Faust the worker runs on),
4. the worker shell with a fold that does nothing (batching, table, ticks: the best any fold
   could reach in it),
5. the real worker: parse, fold (all detectors + features), table write, signals.

Then the per-event budget: microseconds per event of Faust, of the shell, of parse + fold
(measured offline over the same events, no broker), and the rest (state changelog writes,
signals), against the 100 us an event may cost at 10,000 ev/s.

Each rate is events/s from the first record seen to the last; start-up (group join, recovery)
is excluded. Ratios are printed against the baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from infra.broker import EmbeddedBroker, ensure_topics  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.stream_app import create_app, topic_partitions, topics_of  # noqa: E402
from infra.stream_consumer import RetainApp  # noqa: E402
from retain.worker import InProcessWorker, build_worker  # noqa: E402
from signals.customer_fold import default_fold  # noqa: E402
from signals.events import parse_event  # noqa: E402


def make_events(count: int, customers: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """A mix: usage (70%), checkouts (some idle), orders; keyed by customer."""
    rng = random.Random(seed)
    base = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=count * 0.01)  # ends about now
    out = []
    for i in range(count):
        c = f"cust-{rng.randrange(customers)}"
        at = (base + dt.timedelta(seconds=i * 0.01)).isoformat()
        kind = rng.random()
        if kind < 0.1:
            props = {"checkout_id": f"k{i % 50}", "cart_value": 20.0}
            type_ = "checkout.started"
        elif kind < 0.2:
            props, type_ = {"checkout_id": f"k{i % 50}"}, "checkout.activity"
        elif kind < 0.28:
            props, type_ = {"checkout_id": f"k{i % 50}"}, "checkout.completed"
        elif kind < 0.3:
            ship_by = (base + dt.timedelta(hours=1)).isoformat()
            props = {"order_id": f"o{i}", "amount": 30.0, "promised_ship_by": ship_by,
                     "promised_delivery_by": (base + dt.timedelta(days=3)).isoformat()}
            type_ = "order.placed"
        else:
            props, type_ = {"sessions": 1, "feature_counts": {"search": 2}}, "product.usage"
        raw = {"event_id": f"e{i}", "customer_id": c, "type": type_, "occurred_at": at, "properties": props}
        out.append((c.encode(), json.dumps(raw).encode()))
    return out


async def prefill(bootstrap: str, events: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for key, value in tqdm(events, desc="prefill events", unit="ev"):
            await producer.send("events", value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def measure(count: Callable[[], int], total: int, label: str, timeout: float = 600) -> float:
    """Seconds from the first counted record to ``total`` (polls the counter)."""
    bar = tqdm(total=total, desc=label, unit="ev")
    deadline = time.monotonic() + timeout
    while count() == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(label)
        await asyncio.sleep(0.005)
    started = time.perf_counter()
    while count() < total:
        if time.monotonic() > deadline:
            raise TimeoutError(label)
        bar.n = count()
        bar.refresh()
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    bar.n = total
    bar.close()
    return elapsed


async def bench_raw(bootstrap: str, total: int) -> float:
    """A plain consumer loop; timed inside the loop (it is too fast for a polling counter)."""
    consumer = AIOKafkaConsumer("events", bootstrap_servers=bootstrap, group_id=f"raw-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen, started = 0, None
    try:
        with tqdm(total=total, desc="aiokafka + json", unit="ev") as bar:
            while seen < total:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                if batch and started is None:
                    started = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        json.loads(record.value)
                    seen += len(records)
                    bar.update(len(records))
        assert started is not None
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def bench_noop_faust(settings: Settings, url: str, total: int, app_type: type[faust.App]) -> float:
    app = create_app(settings, broker_url=url, app_id=f"bench-noop-{uuid.uuid4().hex[:6]}", app_type=app_type)
    seen = 0

    async def noop(stream: Any) -> None:
        nonlocal seen
        async for _ in stream:
            seen += 1

    app.agent(topics_of(app).events, name="bench.noop")(noop)
    app.finalize()
    await app.start()
    try:
        return await measure(lambda: seen, total, f"no-op agent, {app_type.__name__}")
    finally:
        await app.stop()


class DoNothingFold:
    """A fold that keeps one tiny state per customer and never signals: the shell's own cost."""

    def on_event(self, state: dict | None, event: Any) -> tuple[dict, list]:
        return (state if state is not None else {"n": 0}), []

    def on_tick(self, state: dict | None, now: dt.datetime) -> tuple[dict, list]:
        return state or {"n": 0}, []

    def next_deadline(self, state: dict) -> None:
        return None

    def advance(self, state: dict | None, until: dt.datetime) -> tuple[dict, list]:
        return state or {"n": 0}, []


def bench_fold_offline(events: list[tuple[bytes, bytes]]) -> float:
    """Seconds to parse and fold ``events`` with the default fold, no broker (state in a dict)."""
    fold = default_fold()
    states: dict[str, dict] = {}
    started = time.perf_counter()
    for _, raw in events:
        event = parse_event(raw)
        states[event.customer_id], _ = fold.on_event(states.get(event.customer_id), event)
    return time.perf_counter() - started


async def bench_worker(
    settings: Settings, url: str, total: int, profile: Path | None, fold: Any = None, label: str = "retain worker",
) -> tuple[float, dict]:
    # The signals stage alone: events -> fold -> signals (the trigger stage is measured elsewhere).
    worker = build_worker(settings, broker_url=url, app_id=f"bench-worker-{uuid.uuid4().hex[:6]}",
                          decisions=False, fold=fold)
    runner = InProcessWorker(worker)
    await runner.start()
    profiler = cProfile.Profile() if profile else None
    try:
        if profiler:
            profiler.enable()
        elapsed = await measure(lambda: worker.counters()["events"], total, label)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
        return elapsed, worker.counters()
    finally:
        await runner.stop()


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    events = make_events(args.events, args.customers)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(Path(tmp)) as broker:
        await ensure_topics(broker.bootstrap, topic_partitions(settings))
        await prefill(broker.bootstrap, events)
        n = len(events)
        raw = n / await bench_raw(broker.bootstrap, n)
        stock = n / await bench_noop_faust(settings, broker.url, n, faust.App)
        eager = n / await bench_noop_faust(settings, broker.url, n, RetainApp)
        shell = n / (await bench_worker(settings, broker.url, n, None, DoNothingFold(), "worker shell, do-nothing fold"))[0]
        elapsed, counters = await bench_worker(settings, broker.url, n, args.profile)
        real = n / elapsed
    fold_us = 1e6 * bench_fold_offline(events) / n
    print()
    print(f"events: {n}, customers: {args.customers}, partitions: {settings.topic_partitions}")
    print(f"  aiokafka + json                {raw:>10,.0f} ev/s")
    print(f"  no-op agent, stock faust.App   {stock:>10,.0f} ev/s   {stock / raw:5.2f}x raw")
    print(f"  no-op agent, RetainApp         {eager:>10,.0f} ev/s   {eager / stock:5.2f}x stock no-op")
    print(f"  retain worker (RetainApp)      {real:>10,.0f} ev/s   {real / stock:5.2f}x stock no-op   "
          f"{real / eager:5.2f}x RetainApp no-op   {real / raw:5.2f}x raw")
    print(f"  worker shell, do-nothing fold  {shell:>10,.0f} ev/s   {shell / eager:5.2f}x RetainApp no-op")
    faust_us, shell_us, real_us = 1e6 / eager, 1e6 / shell, 1e6 / real
    print("per-event budget (us; 10,000 ev/s allows 100):")
    print(f"  Faust record delivery (RetainApp no-op agent)   {faust_us:6.1f}")
    print(f"  + worker shell (batches, table, ticks)          {shell_us - faust_us:6.1f}")
    print(f"  + parse + fold (offline, same events)           {fold_us:6.1f}")
    print(f"  + the rest (state changelog writes, signals)    {real_us - shell_us - fold_us:6.1f}")
    print(f"  = retain worker                                 {real_us:6.1f}")
    print(f"  worker counters: {counters}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the worker run into this file")
    asyncio.run(main(parser.parse_args()))
