"""The signals agents under Faust's ``agent.test_context()``: no broker, real agent code.

A tiny stand-in fold (same API as ``signals.customer_fold.CustomerFold``) keeps these tests about
the agent shell: routing to signals / deadletter, state in the table, ticks via the due index.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import pytest

from infra.settings import Settings
from infra.stream_app import create_app
from signals.agents import DueIndex, register_signal_agents
from infra.deadletter import original_payload
from signals.events import parse_event
from signals.signal import Signal

T0 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.timezone.utc)
IDLE = dt.timedelta(seconds=90)


class IdleCheckoutFold:
    """Emits checkout_idle when a started checkout sees no completion within 90 s (event time)."""

    def on_event(self, state: dict | None, event: Any) -> tuple[dict, list[Signal]]:
        state = {"open": dict((state or {}).get("open", {})), "events": (state or {}).get("events", 0) + 1}
        if event.type == "order.cancelled" and event.properties.reason == "explode":
            raise RuntimeError("fold bug on purpose")
        if event.type == "checkout.started":
            state["open"][event.properties.checkout_id] = (event.occurred_at + IDLE).isoformat()
        elif event.type == "checkout.completed":
            state["open"].pop(event.properties.checkout_id, None)
        return state, []

    def on_tick(self, state: dict | None, now: dt.datetime) -> tuple[dict, list[Signal]]:
        state = {"open": dict((state or {}).get("open", {})), "events": (state or {}).get("events", 0)}
        signals = []
        for checkout_id, deadline in sorted(state["open"].items()):
            if dt.datetime.fromisoformat(deadline) <= now:
                del state["open"][checkout_id]
                signals.append(
                    Signal(kind="checkout_idle", customer_id="?", episode_key=f"idle:{checkout_id}",
                           detected_at=now, reason="idle", attributes={"checkout_id": checkout_id})
                )
        return state, signals

    def next_deadline(self, state: dict) -> dt.datetime | None:
        deadlines = [dt.datetime.fromisoformat(d) for d in state.get("open", {}).values()]
        return min(deadlines, default=None)

    def advance(self, state: dict | None, until: dt.datetime) -> tuple[dict, list[Signal]]:
        return self.on_tick(state, until)


class ListSink:
    """Captures what the agent sends (stands in for a topic)."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, Any]] = []

    async def send(self, *, key: Any = None, value: Any = None, value_serializer: Any = None, **kwargs: Any) -> None:
        # Mirrors the topic: raw values are already-encoded JSON.
        self.records.append((key, json.loads(value) if value_serializer == "raw" else value))


def event(type_: str, customer: str, n: int, at: dt.datetime, **properties: Any) -> bytes:
    return json.dumps(
        {"event_id": f"{customer}-{n}", "customer_id": customer, "type": type_,
         "occurred_at": at.isoformat(), "properties": properties}
    ).encode()


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def folded(agents: Any, count: int, timeout: float = 10.0) -> None:
    """Wait (bounded) until the agent has handled ``count`` events: it folds in small batches."""
    deadline = time.monotonic() + timeout
    while agents.counters.events < count:
        assert time.monotonic() < deadline, f"agent handled {agents.counters.events} of {count} events"
        await asyncio.sleep(0.005)


@pytest.fixture
def harness():
    app = create_app(Settings(), broker_url="kafka://127.0.0.1:9", app_id="retain-test-context")
    signals, deadletter, clock = ListSink(), ListSink(), Clock(T0)
    agents = register_signal_agents(app, IdleCheckoutFold(), clock=clock, signals_out=signals, deadletter_out=deadletter,
                                    quarantine_out=ListSink(), caught_up=lambda partition: True)
    app.finalize()
    app.flow_control.resume()
    return agents, signals, deadletter, clock


async def test_idle_checkout_is_signalled_on_tick_and_completed_one_is_not(harness):
    agents, signals, deadletter, clock = harness
    async with agents.agent.test_context() as agent:
        await agent.put(event("checkout.started", "c1", 1, T0, checkout_id="k1"), key=b"c1")
        await agent.put(event("checkout.started", "c2", 1, T0, checkout_id="k2"), key=b"c2")
        await agent.put(event("checkout.completed", "c2", 2, T0 + dt.timedelta(seconds=30), checkout_id="k2"), key=b"c2")
        await folded(agents, 3)
        agents.ticks_enabled = True  # normally switched on by table recovery after assignment
        agents.active_partitions = sorted(agents.key_partition.values())

        clock.now = T0 + dt.timedelta(seconds=89)  # before the deadline: nothing yet
        await agents.tick()
        assert signals.records == []

        clock.now = T0 + dt.timedelta(seconds=91)
        await agents.tick()
        assert [(k, v["kind"], v["attributes"]) for k, v in signals.records] == [
            (b"c1", "checkout_idle", {"checkout_id": "k1"})
        ]
        assert agents.table[b"c1"]["open"] == {}  # the tick's state change was stored

        await agents.tick()  # a later tick does not repeat the signal
        assert len(signals.records) == 1
    assert deadletter.records == []
    assert agents.counters.as_dict()["signals"] == {"checkout_idle": 1}


@pytest.mark.parametrize(
    "payload, key, reason_part",
    [
        (b"{not json", b"c1", "invalid event"),  # not even JSON
        (event("checkout.started", "c1", 9, T0), b"c1", "properties.checkout_id"),  # missing field named
        (event("no.such.type", "c1", 9, T0), b"c1", "invalid event"),  # unknown event type
        (event("order.cancelled", "c1", 9, T0, order_id="o", reason="explode"), b"c1", "fold bug on purpose"),  # fold raised
        (event("checkout.started", "c2", 9, T0, checkout_id="k"), b"c1", "does not match customer_id"),  # wrong key
        (b"\xff\xfe binary", b"c1", "invalid event"),  # not UTF-8: kept as base64
    ],
)
async def test_poison_event_goes_to_deadletter_and_stream_goes_on(harness, payload, key, reason_part):
    agents, signals, deadletter, clock = harness
    async with agents.agent.test_context() as agent:
        await agent.put(payload, key=key)
        await agent.put(event("checkout.started", "c1", 1, T0, checkout_id="k1"), key=b"c1")
        await folded(agents, 2)
        assert [k for k, _ in deadletter.records] == [key]
        record = deadletter.records[0][1]
        assert reason_part in record["reason"]
        assert original_payload(record) == payload  # nothing lost: the raw input is kept
        assert record["source"]["topic"] == "events"
        # the good event after the poison one was folded
        assert agents.table[b"c1"]["open"] == {"k1": (T0 + IDLE).isoformat()}
    assert agents.counters.deadletter == 1 and agents.counters.events == 2


def test_due_index_pops_only_due_customers_once():
    index = DueIndex()
    index.set(0, b"a", T0)
    index.set(1, b"b", T0 + dt.timedelta(seconds=10))
    index.set(0, b"c", T0 + dt.timedelta(seconds=5))
    index.set(0, b"c", T0 + dt.timedelta(seconds=20))  # moved later: the old heap entry is stale
    assert index.pop_due(T0 + dt.timedelta(seconds=10)) == [(0, b"a"), (1, b"b")]
    assert index.pop_due(T0 + dt.timedelta(seconds=10)) == []
    index.keep_only([1])  # partition 0 revoked
    assert index.pop_due(T0 + dt.timedelta(days=1)) == []


def test_due_index_clearing_a_deadline_stops_its_tick():
    index = DueIndex()
    index.set(2, b"a", T0)
    index.set(2, b"a", None)
    assert index.pop_due(T0) == [] and len(index) == 0


def test_stand_in_fold_matches_the_event_contract():
    # Guards the stand-in itself: it must accept real parsed events.
    state, signals = IdleCheckoutFold().on_event(None, parse_event(event("checkout.started", "c", 1, T0, checkout_id="k")))
    assert state["open"] == {"k": (T0 + IDLE).isoformat()} and signals == []


async def test_one_batch_chains_state_per_customer_and_isolates_poison(harness):
    # Direct call with a hand-made batch: events of one customer see each other's state.
    agents, signals, deadletter, clock = harness

    def record(payload: bytes, key: bytes, offset: int) -> Any:
        message = type("Message", (), {"topic": "events", "partition": 1, "offset": offset, "key": key})()
        return type("Event", (), {"value": payload, "key": key, "message": message})()

    batch = [
        record(event("checkout.started", "c1", 1, T0, checkout_id="a"), b"c1", 0),
        record(b"garbage", b"c1", 1),
        record(event("checkout.started", "c1", 2, T0, checkout_id="b"), b"c1", 2),
        record(event("checkout.completed", "c1", 3, T0, checkout_id="a"), b"c1", 3),
    ]
    async with agents.agent.test_context():
        await agents.fold_batch(batch)
        assert agents.table[b"c1"] == {"open": {"b": (T0 + IDLE).isoformat()}, "events": 3}
    assert [(k, v["source"]["offset"]) for k, v in deadletter.records] == [(b"c1", 1)]
    assert agents.counters.events == 4 and agents.key_partition == {b"c1": 1}


async def test_history_arriving_live_fires_deadlines_in_event_time_until_the_partition_is_quiet(harness):
    # A backfill posted through the live path: the worker is caught up between two requests, but the
    # event that closes c1's checkout is in the next one. Firing up to wall-clock now there (as
    # before) signalled c1, which the replay of the same history does not (found by tests/chaos).
    agents, signals, _, clock = harness
    past = T0 - dt.timedelta(days=10)
    async with agents.agent.test_context() as agent:
        await agent.put(event("checkout.started", "c1", 1, past, checkout_id="k1"), key=b"c1")
        await agent.put(event("checkout.started", "c3", 1, past, checkout_id="k3"), key=b"c3")
        await folded(agents, 2)
        agents.ticks_enabled = True
        agents.active_partitions = sorted(agents.key_partition.values())

        clock.now = T0 + dt.timedelta(seconds=2)  # the next request is on its way
        await agents.tick()
        assert signals.records == []  # the partition's clock is the newest event time: 10 days ago

        await agent.put(event("checkout.completed", "c1", 2, past + dt.timedelta(seconds=60), checkout_id="k1"),
                        key=b"c1")
        await agent.put(event("checkout.started", "c2", 1, past + dt.timedelta(minutes=5), checkout_id="k2"),
                        key=b"c2")
        await folded(agents, 4)
        await agents.tick()  # event time passed c3's deadline (c1's checkout was completed in time)
        assert [(k, v["attributes"]) for k, v in signals.records] == [(b"c3", {"checkout_id": "k3"})]

        clock.now += agents.idle_after  # no record for idle_after: the producer is done, now is the clock
        await agents.tick()
        assert [(k, v["attributes"]) for k, v in signals.records][1:] == [(b"c2", {"checkout_id": "k2"})]
