"""The real worker (real fold) on the real embedded broker: events in, signals and deadletter out.

The expected signals are computed by running the same pure fold over the same events, so this
test checks the streaming shell (partitioning, state in the table, ticks, routing), not a copy
of the detectors' rules.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.broker import ensure_topics
from infra.settings import Settings
from infra.stream_app import topic_partitions
from retain.worker import InProcessWorker, build_worker
from signals.customer_fold import default_fold
from signals.events import parse_event
from tests.waiting import wait_for

pytestmark = pytest.mark.integration




def scenario(run: str, now: dt.datetime) -> list[dict]:
    """Events of four customers; deadlines an hour in the past, so ticks fire at once."""
    ago = now - dt.timedelta(hours=1)

    def ev(customer: str, n: int, type_: str, at: dt.datetime, **props: Any) -> dict:
        return {"event_id": f"{run}-{customer}-{n}", "customer_id": f"{run}-{customer}", "type": type_,
                "occurred_at": at.isoformat(), "properties": props}

    return [
        ev("idle", 1, "checkout.started", ago, checkout_id="k1", cart_value=40.0),  # -> checkout_idle
        ev("paid", 1, "checkout.started", ago, checkout_id="k2"),
        ev("paid", 2, "checkout.completed", ago + dt.timedelta(seconds=20), checkout_id="k2"),  # closed: nothing
        ev("late", 1, "order.placed", ago - dt.timedelta(days=2), order_id="o1", amount=10.0,
           promised_ship_by=(ago - dt.timedelta(days=1)).isoformat(),
           promised_delivery_by=(ago + dt.timedelta(days=2)).isoformat()),  # not shipped in time
        ev("idle", 1, "checkout.started", ago, checkout_id="k1", cart_value=40.0),  # duplicate: ignored
    ]


def expected_episodes(events: list[dict], now: dt.datetime) -> set[str]:
    """What the pure fold says these events produce by ``now``."""
    fold, states, episodes = default_fold(Settings().detectors), {}, set()
    for raw in events:
        event = parse_event(raw)
        states[event.customer_id], signals = fold.on_event(states.get(event.customer_id), event)
        episodes |= {s.episode_key for s in signals}
    for state in states.values():
        episodes |= {s.episode_key for s in fold.on_tick(state, now)[1]}
    return episodes


async def read_all(bootstrap: str, topic: str, partitions: int) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records = []
        batch = await consumer.getmany(timeout_ms=300)
        while batch:
            records += [r for rs in batch.values() for r in rs]
            batch = await consumer.getmany(timeout_ms=300)
        return records
    finally:
        await consumer.stop()


async def test_worker_turns_events_into_signals_and_poison_into_deadletter(broker):
    settings = Settings()
    await ensure_topics(broker.bootstrap, topic_partitions(settings))
    run = uuid.uuid4().hex[:8]
    worker = build_worker(settings, broker_url=broker.url, app_id=f"retain-agents-{run}", decisions=False)
    now = dt.datetime.now(dt.timezone.utc)
    events = scenario(run, now)
    expected = expected_episodes(events, now)
    assert {e.split(":")[0] for e in expected} == {"checkout_idle", "shipping_delay"}  # the scenario bites

    poison = [
        (b"{this is not json", f"{run}-idle"),
        (json.dumps({**events[0], "event_id": f"{run}-bad", "properties": {}}).encode(), f"{run}-idle"),
    ]
    async with InProcessWorker(worker):
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for raw in events[:2]:
                await producer.send("events", json.dumps(raw).encode(), key=raw["customer_id"].encode())
            for payload, key in poison:  # in the middle: the stream must go on past them
                await producer.send("events", payload, key=key.encode())
            for raw in events[2:]:
                await producer.send("events", json.dumps(raw).encode(), key=raw["customer_id"].encode())
            await producer.flush()
        finally:
            await producer.stop()

        await wait_for(lambda: worker.counters()["events"] >= len(events) + len(poison), 60, "every event folded")
        await wait_for(lambda: worker.counters()["signals_total"] >= len(expected), 30, "the expected signals")
        ticks = worker.counters()["ticks"]
        await wait_for(lambda: worker.counters()["ticks"] >= ticks + 2, 10, "two more ticks (nothing late)")

    partitions = settings.topic_partitions
    records = [(r.key, json.loads(r.value)) for r in await read_all(broker.bootstrap, "signals", partitions)]
    mine = [(key, s) for key, s in records if s["customer_id"].startswith(run)]
    assert sorted(s["episode_key"] for _, s in mine) == sorted(expected)  # each exactly once
    assert all(key == s["customer_id"].encode() for key, s in mine)  # keyed by customer

    dead = [json.loads(r.value) for r in await read_all(broker.bootstrap, "deadletter", partitions)]
    mine_dead = [d for d in dead if d["key"].startswith(run)]
    assert [d["payload"].encode() for d in mine_dead] == [p for p, _ in poison]
    assert "Invalid JSON" in mine_dead[0]["reason"]
    assert "properties.checkout_id" in mine_dead[1]["reason"]  # names the missing field
    assert all(d["source"]["topic"] == "events" and d["source"]["offset"] >= 0 for d in mine_dead)
    assert worker.counters()["deadletter"] == 2
