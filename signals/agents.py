"""The Faust agents of the signals stage: events -> per-customer fold -> signals | deadletter.

Thin shells around the pure fold (``signals.customer_fold``): load the customer's state from the
``customer_state`` table, call the fold, store the state, send each Signal keyed by customer_id,
then write the changed states' changelog records in batches (``ChangelogWriter``).
Bad input (unparseable, invalid, or a fold that raises) goes to ``deadletter`` with the reason
and the stream goes on. A timer calls ``fold.on_tick`` for customers whose
``fold.next_deadline(state)`` has passed; a due index per assigned partition keeps a tick from
scanning every customer, and is rebuilt from the table after every rebalance's recovery.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

import faust
import orjson
from faust.exceptions import NotReady
from faust.serializers.codecs import Codec

from infra.stream_app import topics_of
from infra.deadletter import deadletter_record, describe_error
from signals.events import parse_event
from signals.signal import Signal

log = logging.getLogger(__name__)

STATE_TABLE = "customer_state"


class Fold(Protocol):
    """What the agents need from ``signals.customer_fold.CustomerFold``."""

    def on_event(self, state: dict | None, event: Any) -> tuple[dict, list[Signal]]: ...
    def on_tick(self, state: dict | None, now: dt.datetime) -> tuple[dict, list[Signal]]: ...
    def next_deadline(self, state: dict) -> dt.datetime | None: ...


def utc_now() -> dt.datetime:
    """Wall-clock now, UTC-aware (ticks run on wall-clock time)."""
    return dt.datetime.now(dt.timezone.utc)


class DueIndex:
    """Earliest tick deadline per customer key, grouped by partition; pure, no I/O.

    A heap per partition with lazy deletion: ``set`` pushes, stale heap entries (whose deadline
    no longer matches ``_deadline``) are skipped when popped.
    """

    def __init__(self) -> None:
        self._deadline: dict[int, dict[Any, dt.datetime]] = {}
        self._heap: dict[int, list[tuple[dt.datetime, Any]]] = {}

    def set(self, partition: int, customer_id: Any, deadline: dt.datetime | None) -> None:
        """Record (or clear, with ``None``) the next deadline of one customer."""
        deadlines = self._deadline.setdefault(partition, {})
        if deadline is None:
            deadlines.pop(customer_id, None)
            return
        if deadlines.get(customer_id) == deadline:
            return
        deadlines[customer_id] = deadline
        heapq.heappush(self._heap.setdefault(partition, []), (deadline, customer_id))

    def pop_due(self, now: dt.datetime) -> list[tuple[int, Any]]:
        """Remove and return ``(partition, customer_id)`` of every deadline ``<= now``."""
        due: list[tuple[int, Any]] = []
        for partition, heap in self._heap.items():
            deadlines = self._deadline.get(partition, {})
            while heap and heap[0][0] <= now:
                deadline, customer_id = heapq.heappop(heap)
                if deadlines.get(customer_id) == deadline:
                    del deadlines[customer_id]
                    due.append((partition, customer_id))
        return due

    def keep_only(self, partitions: Iterable[int]) -> None:
        """Forget every partition not in ``partitions`` (revoked ones)."""
        keep = set(partitions)
        for partition in [p for p in self._deadline if p not in keep]:
            self._deadline.pop(partition, None)
            self._heap.pop(partition, None)

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""
        self._deadline.clear()
        self._heap.clear()

    def __len__(self) -> int:
        return sum(len(d) for d in self._deadline.values())


@dataclass
class StreamCounters:
    """What the worker did since start (for the demo summary and the bench)."""

    events: int = 0
    signals: Counter = field(default_factory=Counter)
    deadletter: int = 0
    ticks: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-data snapshot."""
        return {
            "events": self.events,
            "signals": dict(self.signals),
            "signals_total": sum(self.signals.values()),
            "deadletter": self.deadletter,
            "ticks": self.ticks,
        }


class SignalAgents:
    """The events agent, the tick timer and their shared state, registered on one app."""

    def __init__(
        self,
        app: faust.App,
        fold: Fold,
        *,
        tick_interval: float = 1.0,
        clock: Callable[[], dt.datetime] = utc_now,
        signals_out: Any = None,
        deadletter_out: Any = None,
        batch_size: int = 2000,
        batch_within: float = 0.1,
    ) -> None:
        self.app = app
        self.batch_size = batch_size
        self.batch_within = batch_within  # seconds a partial batch waits: the added latency
        self.fold = fold
        self.clock = clock
        self.topics = topics_of(app)
        # Outputs: the topics in production; any object with ``async send(key=, value=)`` in tests.
        self.signals_out = signals_out if signals_out is not None else self.topics.signals
        self.deadletter_out = deadletter_out if deadletter_out is not None else self.topics.deadletter
        self.counters = StreamCounters()
        self.due = DueIndex()
        # Ticks pause between a rebalance and the end of table recovery: the table is incomplete.
        self.ticks_enabled = False
        self.active_partitions: list[int] = []  # events partitions owned since the last recovery
        # Which partition each customer's state lives on (= its events' partition), so tick
        # writes outside a stream event go to the right changelog partition.
        self.key_partition: dict[bytes, int] = {}
        self.table = app.tables.add(
            CustomerStateTable(
                app,
                name=STATE_TABLE,
                default=None,
                beacon=app.tables.beacon,
                key_type=bytes,  # raw key bytes: the same bytes the events are keyed by
                partitions=app.conf.topic_partitions,
                on_changelog_event=self._on_changelog_event,
            )
        )
        self.table.on_recover(self._rebuild_due_index)
        self.changelog = ChangelogWriter(app, self.table)
        app.on_partitions_revoked.connect(self._on_revoked)
        self.agent = app.agent(self.topics.events, name="signals.agents.fold_events")(self._fold_events)
        app.timer(tick_interval, name="signals.agents.tick")(self.tick)

    # -- pure-ish steps (no Faust objects), easy to test ---------------------------------------

    def fold_one(self, raw: bytes, key: bytes | None, state: dict | None) -> tuple[dict, list[Signal]]:
        """Parse ``raw`` and fold it into ``state``; raises on bad input (the caller dead-letters)."""
        event = parse_event(raw)
        if key is not None and key.decode("utf-8", "replace") != event.customer_id:
            # Partitioned under one customer, claiming another: folding it would split state.
            raise ValueError(f"record key {key!r} does not match customer_id {event.customer_id!r}")
        return self.fold.on_event(state, event)

    # -- Faust shells -----------------------------------------------------------------------------

    async def _fold_events(self, stream: Any) -> None:
        # Batches amortise the per-record cost of table writes and sends; offsets are acked by
        # take_events only after the batch was handled, so delivery stays at-least-once.
        async for events in stream.take_events(self.batch_size, within=self.batch_within):
            await self.fold_batch(events)

    async def fold_batch(self, events: list[Any]) -> None:
        """Fold a batch of events: store changed states, send signals, write their changelog, dead-letter."""
        # No await until every state is stored: a tick cannot interleave with this
        # read-modify-write and have its update overwritten by a stale state.
        dirty: dict[bytes, tuple[int, dict]] = {}
        stored: dict[bytes, Any] = {}  # state as read from the table, to skip no-op writes
        outgoing: list[tuple[bytes, Signal]] = []
        failed: list[tuple[Any, BaseException, Any]] = []
        table_get = self.table.get
        for event in events:
            raw = event.value
            try:
                customer_key = _customer_key(event.key, raw)
                pending = dirty.get(customer_key)
                if pending is None:
                    current = stored[customer_key] = table_get(customer_key)
                else:
                    current = pending[1]
                state, signals = self.fold_one(raw, event.key, current)
            except Exception as exc:  # noqa: BLE001 - any failure of one record must not stop the stream
                failed.append((raw, exc, event.message))
                continue
            dirty[customer_key] = (event.message.partition, state)
            outgoing.extend((customer_key, signal) for signal in signals)
        for customer_key, (partition, state) in dirty.items():
            if state is stored.get(customer_key):
                continue  # unchanged (e.g. only duplicates): no changelog record needed
            self.changelog.put(partition, customer_key, state)  # changelog partition = events'
            self.key_partition[customer_key] = partition
            self.due.set(partition, customer_key, self.fold.next_deadline(state))
        self.counters.events += len(events)
        # Signals before the states that remember them: a crash in between replays the events
        # (offsets are acked after this returns) and re-sends the signals rather than losing them.
        for customer_key, signal in outgoing:
            await self._send_signal(customer_key, signal)
        await self.changelog.flush()
        for raw, exc, message in failed:
            await self._deadletter(raw, exc, message)

    async def tick(self) -> None:
        """Run ``fold.on_tick`` for every customer whose deadline has passed (the timer's body)."""
        if not self.ticks_enabled:
            return
        now = self.clock()
        outgoing: list[tuple[bytes, Signal]] = []
        for partition, customer_key in self.due.pop_due(now):
            current = self.table.get(customer_key)
            try:
                state, signals = self.fold.on_tick(current, now)
            except Exception:  # noqa: BLE001 - one customer's bug must not stop ticks for the rest
                log.exception("on_tick failed for one customer (partition %s)", partition)
                continue
            if state is not current:  # the fold returns the same object when nothing changed
                self.changelog.put(partition, customer_key, state)
            self.due.set(partition, customer_key, self.fold.next_deadline(state))
            outgoing.extend((customer_key, signal) for signal in signals)
        for customer_key, signal in outgoing:
            await self._send_signal(customer_key, signal)
        await self.changelog.flush()
        self.counters.ticks += 1

    async def _send_signal(self, customer_key: bytes, signal: Signal) -> None:
        # Serialized here (compact JSON, same wire format as the topic's json codec): skips
        # Faust's codec registry lookups per record.
        value = orjson.dumps(signal.to_dict(), option=orjson.OPT_NON_STR_KEYS)
        await self.signals_out.send(key=customer_key, value=value, value_serializer="raw")
        self.counters.signals[signal.kind] += 1

    async def _deadletter(self, raw: Any, exc: BaseException, message: Any) -> None:
        reason = describe_error(exc)
        record = deadletter_record(
            raw=raw, reason=reason, stage="signals.fold", topic=message.topic,
            partition=message.partition, offset=message.offset, key=message.key, now=self.clock(),
        )
        await self.deadletter_out.send(key=message.key, value=record)
        self.counters.deadletter += 1
        # The reason names fields only; payloads may hold e-mail addresses, so they are not logged.
        log.warning("deadletter %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason)

    async def _on_revoked(self, sender: Any, revoked: set, **kwargs: Any) -> None:
        self.ticks_enabled = False

    async def _rebuild_due_index(self) -> None:
        active = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topics.events.get_topic_name()}
        self.due.clear()
        # Forget customers of partitions we no longer own (their state moved to another worker).
        self.key_partition = {k: p for k, p in self.key_partition.items() if p in active}
        for customer_key, partition in self.key_partition.items():
            state = self.table.get(customer_key)
            if state is not None:
                self.due.set(partition, customer_key, self.fold.next_deadline(state))
        self.active_partitions = sorted(active)
        self.ticks_enabled = True
        log.info("due index rebuilt: %d customers due on partitions %s", len(self.due), sorted(active))

    async def _on_changelog_event(self, event: Any) -> None:
        # Called for every changelog record replayed during recovery.
        self.key_partition[event.key] = event.message.partition


class ChangelogWriter:
    """Stores customer states in the table now and writes their changelog records in batches.

    ``table[key] = state`` sends each record through Faust's producer buffer (a future, a pending
    message and a task hop per record: ~20 us). ``put`` stores the state in the in-memory table
    at once (no await: a tick or batch reading it next sees it) and queues the record; ``flush``
    writes the queued records as one aiokafka record batch per changelog partition.

    Delivery semantics stay Faust's: a batch's events are acked only after its ``flush`` returned
    (records are in the producer's accumulator by then) and Faust's commit flushes the producer
    before it commits offsets. ``flush`` runs under one lock, so a ``flush`` that finds its
    records taken by a concurrent one still returns only after they were handed over, and one
    customer's records reach the changelog in the order its states were made.
    """

    def __init__(self, app: faust.App, table: Any) -> None:
        self.app = app
        self.table = table
        self.codec = StateCodec()
        self._pending: dict[bytes, tuple[int, dict]] = {}
        self._lock = asyncio.Lock()

    def put(self, partition: int, key: bytes, state: dict) -> None:
        """Store ``state`` in the table (memory) now; its changelog record goes out on ``flush``."""
        self.table.data[key] = state
        self._pending[key] = (partition, state)  # a newer state of the same key replaces the older

    async def flush(self) -> None:
        """Write every queued record to the changelog (one record batch per partition)."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                producer = self.app.producer._ensure_producer()  # the app's aiokafka producer
            except NotReady:  # not started (an agent under test_context()): Faust's own path
                for key, (partition, state) in pending.items():
                    self.table.send_changelog(partition, key, state)
                return
            by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
            for key, (partition, state) in pending.items():
                by_partition.setdefault(partition, []).append((key, self.codec.dumps(state)))
            topic = self.table.changelog_topic.get_topic_name()
            await asyncio.gather(*(
                self._send(producer, topic, partition, items) for partition, items in by_partition.items()
            ))

    @staticmethod
    async def _send(producer: Any, topic: str, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        batch = producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: ship it
                await producer.send_batch(batch, topic, partition=partition)
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        await producer.send_batch(batch, topic, partition=partition)


class StateCodec(Codec):
    """The state table's changelog codec: the same compact JSON as Faust's ``json``, via orjson.

    Encoding a customer's state is the worker's largest per-write cost (a heavy customer's state
    is ~15 KB); orjson does it 5-10x faster than the standard library. Records stay plain JSON,
    so the changelog remains readable by any consumer.
    """

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


class CustomerStateTable(faust.Table):
    """The customer state table: orjson changelog codec; written through ``ChangelogWriter``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Before the changelog topic and the store are made (lazily): both take this codec.
        self.value_serializer = StateCodec()


def _customer_key(key: bytes | None, raw: bytes) -> bytes:
    # The record key is the customer_id (producers key by it); for an unkeyed record fall back to
    # the payload's customer_id (an unparseable one raises and is dead-lettered).
    if key:
        return key
    return parse_event(raw).customer_id.encode()


def register_signal_agents(
    app: faust.App,
    fold: Fold,
    *,
    tick_interval: float = 1.0,
    clock: Callable[[], dt.datetime] = utc_now,
    signals_out: Any = None,
    deadletter_out: Any = None,
) -> SignalAgents:
    """Register the events agent and the tick timer on ``app``; returns their handle (counters)."""
    return SignalAgents(
        app, fold, tick_interval=tick_interval, clock=clock,
        signals_out=signals_out, deadletter_out=deadletter_out,
    )
