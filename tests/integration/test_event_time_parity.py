"""Event time everywhere (issue 11 finding 3): the real worker, fed in bulk or trickled, gives replay's signals.

A 40-day simulated history (the demo's backfill, with its scripted idle checkouts, late orders
and usage collapse) goes through the real worker on a real broker twice:

* in bulk, the way ``retain demo`` sends it: every storefront event first, then every order
  event written straight to Kafka (40 days behind the storefront's), with the wall clock at the
  end of the history. Before the fix, ticks between batches fired at wall-clock time while the
  rest of the load was unread: idle checkouts closed by an abandonment in the same load were
  missed, usage days were judged before their usage was read, and orders that had shipped were
  reported "not shipped".
* trickled, a day at a time in event-time order, the worker's clock following the feed (as a
  live feed would move it).

Both must equal ``signals.customer_fold.replay`` of the same events, compared by signal id,
kind and episode, each exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from infra.broker import EmbeddedBroker, ensure_topics
from infra.settings import Settings
from infra.stream_app import topic_partitions
from retain.demo import DIRECT_PREFIXES
from retain.worker import InProcessWorker, build_worker
from signals.customer_fold import default_fold, replay
from signals.events import parse_event
from simulator.arrival_noise import ArrivalNoise
from simulator.live import LiveFeed
from tests.topics import read_json_topic
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

END = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def history() -> list[dict[str, Any]]:
    """40 days of 40 simulated customers, in the demo's sending order (storefront first, then orders)."""
    feed = LiveFeed(population_size=40, seed=3, backfill_days=40,
                    noise=ArrivalNoise(duplicate_share=0.005, late_share=0.0, malformed_share=0.0))
    events = feed.next_batch(END)
    direct = [e for e in events if e["type"].startswith(DIRECT_PREFIXES)]
    return [e for e in events if not e["type"].startswith(DIRECT_PREFIXES)] + direct


def identities(signals: list[dict[str, Any]]) -> Counter:
    return Counter((s["signal_id"], s["kind"], s["episode_key"]) for s in signals)


def expected(events: list[dict[str, Any]]) -> Counter:
    return identities([s.to_dict() for s in replay((parse_event(e) for e in events), default_fold(Settings().detectors),
                                                   until=END)])


async def run_worker(tmp_path: Any, name: str, chunks: list[list[dict[str, Any]]],
                     clocks: list[dt.datetime]) -> list[dict[str, Any]]:
    """Feed ``chunks`` one after another, moving the worker's clock to ``clocks[i]`` once chunk i is read."""
    settings = Settings(data_dir=tmp_path / name)
    with EmbeddedBroker(tmp_path / f"{name}-broker") as broker:
        await ensure_topics(broker.bootstrap, topic_partitions(settings))
        clock = Clock(clocks[0] if len(chunks) > 1 else END)
        worker = build_worker(settings, broker_url=broker.url, app_id=f"parity-{name}", decisions=False, clock=clock)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20)
        await producer.start()
        sent = 0
        try:
            async with InProcessWorker(worker):
                for chunk, until in zip(chunks, clocks):
                    for event in chunk:
                        await producer.send("events", json.dumps(event).encode(), key=event["customer_id"].encode())
                    await producer.flush()
                    sent += len(chunk)
                    await wait_for(lambda: worker.counters()["events"] >= sent, 120, f"{name}: {sent} events read")
                    clock.now = until
                    ticks = worker.counters()["ticks"]
                    await wait_for(lambda: worker.counters()["ticks"] >= ticks + 2, 30, f"{name}: two ticks")
                    lagging = worker.health.snapshot()["signals.ticks"]["detail"]
                    assert "backlog" not in lagging, lagging  # every partition caught up: the ticks ran
                total = worker.counters()["signals_total"]
                assert worker.counters()["deadletter"] == 0
        finally:
            await producer.stop()
        return await read_json_topic(broker.bootstrap, "signals", settings.topic_partitions,
                                     lambda values: len(values) >= total)


async def test_bulk_load_gives_the_replay_signals(tmp_path):
    events = history()
    want = expected(events)
    assert {kind for _, kind, _ in want} == {"checkout_idle", "shipping_delay", "usage_drop"}  # the history bites
    got = identities(await run_worker(tmp_path, "bulk", [events], [END]))
    assert got == want


async def test_trickled_feed_gives_the_replay_signals(tmp_path):
    events = sorted(history(), key=lambda e: e["occurred_at"])  # as they happen
    want = expected(events)
    assert want == expected(history())  # the sending order of the bulk test changes nothing in event time
    start = dt.datetime.fromisoformat(events[0]["occurred_at"])
    days = [start + dt.timedelta(days=n) for n in range(1, 41)] + [END]
    chunks = [[e for e in events if (i == 0 or dt.datetime.fromisoformat(e["occurred_at"]) >= days[i - 1])
               and dt.datetime.fromisoformat(e["occurred_at"]) < day] for i, day in enumerate(days)]
    assert sum(map(len, chunks)) == len(events)
    got = identities(await run_worker(tmp_path, "trickle", chunks, days))
    assert got == want
