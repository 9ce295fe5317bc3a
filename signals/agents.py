"""The Faust agents of the signals stage: events -> per-customer fold -> signals | deadletter | quarantine.

A thin shell: the events agent takes batches, hands them to ``signals.stream_batch`` (which
parses, checks, folds in event time and isolates every record and customer), then stores the
changed states (``signals.changelog``), sends the signals, writes the states' changelog records,
and sends dead-letters and quarantine notices. The tick timer fires deadlines only on partitions
whose backlog has been read (``caught_up``): on a lagging partition the events themselves are the
clock (``docs/streaming.md``, "Event time"). On a caught-up one it fires them up to the partition's
clock (``signals.tick_clock``): the newest event time folded while records keep arriving, wall-clock
now once the partition has been quiet for ``idle_after``. A due index per
partition (``signals.due_index``) keeps a tick from scanning every customer; it is rebuilt after
every rebalance's table recovery. Both parts report to ``infra.health`` (``signals.stream_health``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import faust
import orjson
from faust.types import TP

from infra.deadletter import deadletter_key, deadletter_record
from infra.health import Health
from infra.stream_app import topics_of
from signals import stream_health
from signals.changelog import ChangelogWriter, CustomerStateTable, StateCodec
from signals.due_index import DueIndex
from signals.quarantine import CONTROL_HEADER
from signals.signal import Signal
from signals.stream_batch import CustomerResult, Failure, InputRecord, StreamBatch
from signals.tick_clock import PartitionClock

log = logging.getLogger(__name__)

STATE_TABLE = "customer_state"
__all__ = ["ChangelogWriter", "DueIndex", "SignalAgents", "StateCodec", "StreamCounters", "register_signal_agents"]


class Fold(Protocol):
    """What the agents need from ``signals.customer_fold.CustomerFold``."""

    def on_event(self, state: dict | None, event: Any) -> tuple[dict, list[Signal]]: ...
    def on_tick(self, state: dict | None, now: dt.datetime) -> tuple[dict, list[Signal]]: ...
    def next_deadline(self, state: dict) -> dt.datetime | None: ...
    def advance(self, state: dict | None, until: dt.datetime) -> tuple[dict, list[Signal]]: ...


def utc_now() -> dt.datetime:
    """Wall-clock now, UTC-aware (ticks fire deadlines up to it; event times are checked against it)."""
    return dt.datetime.now(dt.timezone.utc)


def encode_signal(signal: Signal) -> bytes:
    """A signal's record value: compact JSON, the same wire format as the topic's json codec."""
    return orjson.dumps(signal.to_dict(), option=orjson.OPT_NON_STR_KEYS)


@dataclass
class StreamCounters:
    """What the worker did since start (for the demo summary and the bench)."""

    events: int = 0
    signals: Counter = field(default_factory=Counter)
    deadletter: int = 0
    deadletter_stages: Counter = field(default_factory=Counter)
    quarantined: int = 0  # customers set aside since start
    ticks: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-data snapshot."""
        return {
            "events": self.events,
            "signals": dict(self.signals),
            "signals_total": sum(self.signals.values()),
            "deadletter": self.deadletter,
            "deadletter_stages": dict(self.deadletter_stages),
            "quarantined": self.quarantined,
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
        quarantine_out: Any = None,
        batch_size: int = 2000,
        batch_within: float = 0.1,
        max_future: dt.timedelta = dt.timedelta(hours=24),
        health: Health | None = None,
        caught_up: Callable[[int], bool] | None = None,
        idle_after: dt.timedelta = dt.timedelta(seconds=10),
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
        self.quarantine_out = quarantine_out if quarantine_out is not None else self.topics.quarantine
        self.counters = StreamCounters()
        self.due = DueIndex()
        self.health = health if health is not None else Health(clock=clock)
        self.agent_health, self.tick_health = stream_health.register(self.health, clock, tick_interval)
        self.caught_up = caught_up if caught_up is not None else self._caught_up
        self._next_offset: dict[int, int] = {}  # per events partition: every record below was handled
        self.idle_after = idle_after
        self.clocks: dict[int, PartitionClock] = {}  # per events partition: how far its ticks may fire
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
        self.batch = StreamBatch(fold, encode_state=self.changelog.codec.dumps, encode_signal=encode_signal,
                                 max_future=max_future)
        app.on_partitions_revoked.connect(self._on_revoked)
        self.agent = app.agent(self.topics.events, name="signals.agents.fold_events")(self._fold_events)
        self._app_on_error = self.agent._on_error  # Faust's own (commits what was acked): still called
        self.agent._on_error = self._on_agent_error
        app.timer(tick_interval, name="signals.agents.tick")(self.tick)

    # -- the events agent -------------------------------------------------------------------------

    async def _fold_events(self, stream: Any) -> None:
        # Batches amortise the per-record cost of table writes and sends; offsets are acked by
        # take_events only after the batch was handled, so delivery stays at-least-once.
        self.agent_health.running()
        async for events in stream.take_events(self.batch_size, within=self.batch_within):
            await self.fold_batch(events)
            self.agent_health.running()

    async def _on_agent_error(self, agent: Any, exc: BaseException) -> None:
        log.error("signals agent crashed (Faust restarts it): %s: %s", type(exc).__name__, exc)
        self.agent_health.crashed(exc)
        if self._app_on_error is not None:
            await self._app_on_error(agent, exc)

    async def fold_batch(self, events: list[Any]) -> None:
        """Fold a batch: store changed states, send signals, write their changelog, dead-letter, notify."""
        records = [_input_record(event) for event in events]
        # Synchronous from here to the last put: a tick cannot interleave with this
        # read-modify-write and have its update overwritten by a stale state.
        result = self.batch.fold_records(records, self.table.get, self.clock())
        for customer in result.customers:
            self._store(customer)
        for record in records:
            self._next_offset[record.partition] = max(self._next_offset.get(record.partition, 0), record.offset + 1)
        at = self.clock()
        for partition in {record.partition for record in records}:
            self.clocks.setdefault(partition, PartitionClock()).folded(result.newest_event.get(partition), at=at)
        self.counters.events += len(events)
        await self._publish(result.customers, result.failures)

    async def _publish(self, customers: list[CustomerResult], failures: list[Failure]) -> None:
        # Signals before the states that remember them: a crash in between replays the events
        # (offsets are acked after this returns) and re-sends the signals rather than losing them.
        for customer in customers:
            for kind, value in customer.signals:
                await self.signals_out.send(key=customer.key, value=value, value_serializer="raw")
                self.counters.signals[kind] += 1
        await self.changelog.flush()
        for failure in failures:
            await self._deadletter(failure)
        for customer in customers:
            if customer.notice is not None:
                await self.quarantine_out.send(key=customer.key, value=customer.notice)
            if customer.quarantined:
                self.counters.quarantined += 1
                log.warning("customer quarantined (partition %s): %s", customer.partition,
                            customer.notice["reason"] if customer.notice else "")

    def _store(self, customer: CustomerResult) -> None:
        if customer.encoded:  # b"": the state did not change
            self.changelog.put(customer.partition, customer.key, customer.state, customer.encoded)
        self.key_partition[customer.key] = customer.partition
        self.due.set(customer.partition, customer.key, customer.deadline)

    async def _deadletter(self, failure: Failure) -> None:
        record = failure.record
        value = deadletter_record(raw=record.raw, reason=failure.reason, stage=failure.stage, topic=record.topic,
                                  partition=record.partition, offset=record.offset, key=record.key, now=self.clock())
        await self.deadletter_out.send(key=deadletter_key(record.key), value=value)
        self.counters.deadletter += 1
        self.counters.deadletter_stages[failure.stage] += 1
        # The reason names fields only; payloads may hold e-mail addresses, so they are not logged.
        log.warning("deadletter %s[%s]@%s (%s): %s", record.topic, record.partition, record.offset, failure.stage,
                    value["reason"][:300])

    # -- ticks --------------------------------------------------------------------------------------

    async def tick(self) -> None:
        """Fire the deadlines up to now of every customer on a caught-up partition (the timer's body)."""
        self.agent_health.refresh()
        if not self.ticks_enabled:
            self.tick_health.degraded("paused: partitions are being assigned and their tables recovered")
            return
        now = self.clock()
        ready = [p for p in self.active_partitions if self.caught_up(p)]
        changed = []
        for ready_partition in ready:
            until = self.clocks.setdefault(ready_partition, PartitionClock()).until(now, idle_after=self.idle_after)
            if until is None:
                continue
            for partition, key in self.due.pop_due(until, [ready_partition]):
                result = self.batch.tick(key, partition, self.table.get(key), until)
                if result is not None:
                    self._store(result)
                    changed.append(result)
        await self._publish(changed, [])
        self.counters.ticks += 1
        lagging = len(self.active_partitions) - len(ready)
        self.tick_health.ok(f"{lagging} partition(s) still reading their backlog" if lagging else "")

    def _caught_up(self, partition: int) -> bool:
        """Whether every record of this events partition up to its high watermark has been handled.

        Until then its backlog holds events that may cancel or prove a deadline: the tick must
        not decide for it (``docs/streaming.md``). The high watermark is the consumer's, from its
        last fetch; the committed offset counts for a partition nothing was read from yet.
        """
        tp = TP(self.topics.events.get_topic_name(), partition)
        consumer = self.app.consumer
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - no fetch yet (or no consumer): unknown is not caught up
            return False
        if highwater is None:
            return False
        committed = getattr(consumer, "_committed_offset", {}).get(tp)  # Faust's: set by the seek at assignment
        done = max((o for o in (self._next_offset.get(partition), committed) if o is not None), default=0)
        return done >= highwater

    # -- rebalances ---------------------------------------------------------------------------------

    async def _on_revoked(self, sender: Any, revoked: set, **kwargs: Any) -> None:
        self.ticks_enabled = False

    async def _rebuild_due_index(self) -> None:
        active = {tp.partition for tp in self.app.assignor.assigned_actives()
                  if tp.topic == self.topics.events.get_topic_name()}
        self.due.clear()
        # Forget customers of partitions we no longer own (their state moved to another worker).
        self.key_partition = {k: p for k, p in self.key_partition.items() if p in active}
        self._next_offset = {p: o for p, o in self._next_offset.items() if p in active}
        now, aside = self.clock(), []
        # A partition that is new to this worker may still be receiving its history: not idle yet.
        self.clocks = {p: c for p, c in self.clocks.items() if p in active}
        for partition in active:
            if partition not in self.clocks:
                self.clocks[partition] = PartitionClock()
                self.clocks[partition].assigned(now)
        for customer_key, partition in self.key_partition.items():
            deadline, quarantined = self.batch.deadline(customer_key, partition, self.table.get(customer_key), now)
            if quarantined is not None:
                self._store(quarantined)
                aside.append(quarantined)
            else:
                self.due.set(partition, customer_key, deadline)
        self.active_partitions = sorted(active)
        self.ticks_enabled = True
        log.info("due index rebuilt: %d customers due on partitions %s, %d quarantined", len(self.due),
                 sorted(active), len(aside))
        await self._publish(aside, [])

    async def _on_changelog_event(self, event: Any) -> None:
        # Called for every changelog record replayed during recovery.
        self.key_partition[event.key] = event.message.partition


def _input_record(event: Any) -> InputRecord:
    """The batch core's view of one Faust event of ``events``."""
    message = event.message
    headers = getattr(event, "headers", None) or {}
    control = headers.get(CONTROL_HEADER) if isinstance(headers, dict) else None
    return InputRecord(raw=event.value, key=event.key, partition=message.partition, offset=message.offset,
                       topic=message.topic, control=control.decode("utf-8", "replace") if control else None,
                       ref=event)


def register_signal_agents(app: faust.App, fold: Fold, **options: Any) -> SignalAgents:
    """Register the events agent and the tick timer on ``app``; returns their handle (counters, health)."""
    return SignalAgents(app, fold, **options)
