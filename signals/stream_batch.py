"""The signals stage's work on one batch, one tick or one rebuild, each record and customer isolated.

Pure apart from the encoders it is given: no Faust, no I/O, no clock (``now`` is passed in), so
every failure path is a plain unit test. The agents (``signals.agents``) load states, call this,
then store and send what it returns.

A batch (``StreamBatch.fold``): every record is parsed, its key checked against its
``customer_id`` and its event time checked (``signals.event_time``); a record failing any of
these is a ``Failure`` (dead-letter, with ``stage``). The rest is grouped by customer, in order.
Per customer, for each event: the deadlines its ``occurred_at`` proves passed fire first
(``CustomerFold.advance``: event time, the same as ``replay``), then the event is folded, its
signals encoded, the next deadline computed. Whose fault a failure is decides what happens:

* the event's (the fold raises on a fresh state too, a signal cannot be encoded, the state it
  makes cannot be stored): the event is dead-lettered, the customer goes on from the state before;
* the state's (the fold raises on it but not on a fresh state, its deadline or a tick raises):
  the customer is quarantined (``signals.quarantine``) with the event held.

The customer's state is encoded once at the end of its batch; if that fails, its events are
folded again checking the state after each, to find the one that made it unstorable.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from infra.deadletter import describe_error
from signals.event_time import future_time_problem
from signals.events import parse_event
from signals.quarantine import (
    MAX_HELD, MAX_HELD_BYTES, RELEASE, count_dead_lettered, full_reason, hold, held_payload, is_quarantined, notice, parse_release, quarantine,
)
from signals.signal import Signal

PARSE, KEY, EVENT_TIME, FOLD = "signals.parse", "signals.key", "signals.event_time", "signals.fold"
ENCODE, STATE, DEADLINE, TICK = "signals.encode", "signals.state_encode", "signals.deadline", "signals.tick"
QUARANTINE, CONTROL = "signals.quarantine", "signals.control"


@dataclass(frozen=True)
class InputRecord:
    """One record of ``events`` as the batch sees it (``control``: the control header's value)."""

    raw: bytes | None
    key: bytes | None
    partition: int
    offset: int
    topic: str = "events"
    control: str | None = None
    ref: Any = None  # the caller's own handle (the Faust event), passed back in failures


@dataclass(frozen=True)
class Failure:
    """A record that goes to ``deadletter``: why, and at which stage."""

    record: InputRecord
    reason: str
    stage: str


@dataclass
class CustomerResult:
    """What one customer's batch (or tick) changed."""

    key: bytes
    partition: int
    state: Any
    encoded: bytes  # the state's changelog value
    signals: list[tuple[str, bytes]]  # (kind, encoded signal)
    deadline: dt.datetime | None
    notice: dict[str, Any] | None = None  # for the quarantine topic
    quarantined: bool = False  # newly quarantined here


@dataclass
class BatchResult:
    """Changed customers (in first-seen order) and the failed records (in input order)."""

    customers: list[CustomerResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    newest_event: dict[int, dt.datetime] = field(default_factory=dict)  # per partition: newest occurred_at accepted


class _StateFault(Exception):
    """A step failed because of the customer's state: quarantine it (``stage`` says which step)."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(stage, cause)
        self.stage, self.cause = stage, cause


class StreamBatch:
    """Folds batches, ticks and rebuilds for the agents; see the module docstring."""

    def __init__(self, fold: Any, *, encode_state: Callable[[Any], bytes], encode_signal: Callable[[Signal], bytes],
                 max_future: dt.timedelta, max_held: int = MAX_HELD, max_held_bytes: int = MAX_HELD_BYTES) -> None:
        self.fold = fold
        self.max_held, self.max_held_bytes = max_held, max_held_bytes
        self.encode_state = encode_state
        self.encode_signal = encode_signal
        self.max_future = max_future

    # -- a batch of records ----------------------------------------------------------------------

    def fold_records(self, records: list[InputRecord], load: Callable[[bytes], Any], now: dt.datetime) -> BatchResult:
        """Fold a batch; ``load(key)`` reads a customer's stored state (``None`` when new)."""
        result = BatchResult()
        groups: dict[bytes, list[tuple[InputRecord, Any]]] = {}
        partitions: dict[bytes, int] = {}
        for record in records:
            try:
                key, event = self._accept(record, now)
            except _Refused as refused:
                result.failures.append(Failure(record, refused.reason, refused.stage))
                continue
            groups.setdefault(key, []).append((record, event))
            partitions[key] = record.partition  # the events' partition is the state's changelog partition
            if event is not None:
                newest = result.newest_event.get(record.partition)
                if newest is None or event.occurred_at > newest:
                    result.newest_event[record.partition] = event.occurred_at
        for key, items in groups.items():
            changed = self._customer(key, partitions[key], load(key), items, now, result.failures)
            if changed is not None:
                result.customers.append(changed)
        return result

    def _accept(self, record: InputRecord, now: dt.datetime) -> tuple[bytes, Any]:
        """``(customer key, parsed event)``; a control record's event is ``None``."""
        if record.control is not None:
            if record.control != RELEASE or not record.key:
                raise _Refused(CONTROL, f"unknown control record {record.control!r} (or no key)")
            return record.key, None
        try:
            event = parse_event(record.raw if record.raw is not None else b"")
        except Exception as exc:  # noqa: BLE001 - not JSON, not UTF-8, not an event: all the record's fault
            raise _Refused(PARSE, describe_error(exc)) from None
        if record.key is not None and record.key.decode("utf-8", "replace") != event.customer_id:
            # Partitioned under one customer, claiming another: folding it would split state.
            raise _Refused(KEY, f"record key {record.key[:200]!r} does not match customer_id {event.customer_id!r}")
        problem = future_time_problem(event.occurred_at, now=now, max_future=self.max_future)
        if problem is not None:
            raise _Refused(EVENT_TIME, problem)
        return (record.key or event.customer_id.encode()), event

    def _customer(self, key: bytes, partition: int, stored: Any, items: list[tuple[InputRecord, Any]],
                  now: dt.datetime, failures: list[Failure]) -> CustomerResult | None:
        own: list[Failure] = []
        state, signals, fresh, deadline = self._run(stored, items, now, own, check=False)
        encoded = self._encode(state, stored)
        if encoded is None:  # some event made the state unstorable: find it, step by step
            own = []
            state, signals, fresh, deadline = self._run(stored, items, now, own, check=True)
            encoded = self._encode(state, stored)
        failures.extend(own)
        if state is stored:
            return None
        if encoded is None:  # cannot happen after the checked run; keep the stored state, lose nothing
            failures.extend(Failure(r, "customer state could not be stored", STATE) for r, _ in items)
            return None
        return self._result(key, partition, stored, state, encoded, signals, now, fresh, deadline)

    def _run(self, stored: Any, items: list[tuple[InputRecord, Any]], now: dt.datetime, failures: list[Failure],
             *, check: bool) -> tuple[Any, list[tuple[str, bytes]], bool, Any]:
        """Fold one customer's items: (state or entry, encoded signals, newly quarantined, next deadline)."""
        state, signals, fresh = stored, [], False
        queue = deque(items)
        deadline: Any = _UNKNOWN
        while queue:
            record, event = queue.popleft()
            if event is None:  # a release request
                state, released = self._release(state, record, failures)
                queue.extendleft(reversed(released))
                deadline = _UNKNOWN
                continue
            if is_quarantined(state):
                state = self._hold(state, record, failures)
                continue
            try:
                state, deadline, emitted = self._step(state, deadline, record, event, check)
            except _EventFault as fault:
                failures.append(Failure(record, fault.reason, fault.stage))
                continue
            except _StateFault as fault:
                entry = quarantine(state, reason=describe_error(fault.cause), stage=fault.stage,
                                   partition=record.partition, offset=record.offset, now=now)
                state, fresh = self._hold(entry, record, failures), True
                continue
            signals.extend(emitted)
        return state, signals, fresh, deadline

    def _step(self, state: Any, deadline: Any, record: InputRecord, event: Any,
              check: bool) -> tuple[Any, dt.datetime | None, list[tuple[str, bytes]]]:
        """One event: fire the deadlines it proves passed, fold it; (state, next deadline, signals)."""
        fold = self.fold
        emitted: list[tuple[str, bytes]] = []
        if state is not None:
            try:
                if deadline is _UNKNOWN:
                    deadline = fold.next_deadline(state)
                if deadline is not None and deadline <= event.occurred_at:
                    state, fired = fold.advance(state, event.occurred_at)
                    emitted = [(s.kind, self.encode_signal(s)) for s in fired]
                    deadline = fold.next_deadline(state)
                    if check:
                        self.encode_state(state)
            except Exception as exc:  # noqa: BLE001 - the state's deadlines cannot be handled
                raise _StateFault(TICK, exc) from None
        try:
            new, signals = fold.on_event(state, event)
        except Exception as exc:  # noqa: BLE001 - whose fault? try the event alone
            if self._fails_alone(event):
                raise _EventFault(FOLD, describe_error(exc)) from None
            raise _StateFault(FOLD, exc) from None
        if new is state:
            return state, deadline, emitted  # a duplicate: nothing changed
        try:
            emitted += [(s.kind, self.encode_signal(s)) for s in signals]
        except Exception as exc:  # noqa: BLE001 - a value no signal can carry: the event's fault
            raise _EventFault(ENCODE, describe_error(exc)) from None
        if check:
            try:
                self.encode_state(new)
            except Exception as exc:  # noqa: BLE001 - this event made the state unstorable
                raise _EventFault(STATE, f"customer state could not be stored: {describe_error(exc)}") from None
        try:
            deadline = fold.next_deadline(new)
        except Exception as exc:  # noqa: BLE001 - the new state is broken; keep the old one aside
            raise _StateFault(DEADLINE, exc) from None
        return new, deadline, emitted

    def _fails_alone(self, event: Any) -> bool:
        try:
            self.fold.on_event(None, event)
        except Exception:  # noqa: BLE001 - the event fails on any state
            return True
        return False

    def _hold(self, entry: dict[str, Any], record: InputRecord, failures: list[Failure]) -> dict[str, Any]:
        held = hold(entry, record.raw, partition=record.partition, offset=record.offset, max_held=self.max_held,
                    max_bytes=self.max_held_bytes)
        if held is not None:
            return held
        failures.append(Failure(record, full_reason(entry), QUARANTINE))
        return count_dead_lettered(entry)

    def _release(self, state: Any, record: InputRecord,
                 failures: list[Failure]) -> tuple[Any, list[tuple[InputRecord, Any]]]:
        """The state to go on from and the held events to fold again, in order."""
        try:
            reset = parse_release(record.raw)
        except ValueError as exc:
            failures.append(Failure(record, str(exc), CONTROL))
            return state, []
        if not is_quarantined(state):
            return state, []  # nothing to release (released twice, or never quarantined)
        items = []
        for item in state["held"]:
            again = InputRecord(raw=held_payload(item), key=record.key, partition=item["partition"],
                                offset=item["offset"], topic=record.topic, ref=record.ref)
            try:
                event = parse_event(again.raw or b"")
            except Exception as exc:  # noqa: BLE001 - it parsed once; dead-letter rather than lose it
                failures.append(Failure(again, describe_error(exc), PARSE))
                continue
            items.append((again, event))
        return (None if reset else state["state"]), items

    def _encode(self, state: Any, stored: Any) -> bytes | None:
        if state is stored:
            return b""
        try:
            return self.encode_state(state)
        except Exception:  # noqa: BLE001 - the caller finds out which event did it
            return None

    def _result(self, key: bytes, partition: int, stored: Any, state: Any, encoded: bytes,
                signals: list[tuple[str, bytes]], now: dt.datetime, fresh: bool, deadline: Any) -> CustomerResult:
        customer = key.decode("utf-8", "replace")
        if is_quarantined(state):
            return CustomerResult(key, partition, state, encoded, signals, None,
                                  notice(customer, state, now=now), quarantined=fresh)
        released = notice(customer, None, now=now) if is_quarantined(stored) else None
        if deadline is _UNKNOWN:  # released with nothing folded since: the kept state's deadline
            deadline, aside = self.deadline(key, partition, state, now)
            if aside is not None:
                aside.signals = signals
                return aside
        return CustomerResult(key, partition, state, encoded, signals, deadline, released)

    # -- a tick and a rebuild --------------------------------------------------------------------

    def tick(self, key: bytes, partition: int, state: Any, now: dt.datetime) -> CustomerResult | None:
        """Fire the customer's deadlines up to ``now``; a state that cannot be ticked is quarantined."""
        if state is None or is_quarantined(state):
            return None
        try:
            after, fired = self.fold.advance(state, now)
            signals = [(s.kind, self.encode_signal(s)) for s in fired]
            deadline = self.fold.next_deadline(after)
            encoded = b"" if after is state else self.encode_state(after)
        except Exception as exc:  # noqa: BLE001 - one customer's state must not stop ticks for the rest
            return self.set_aside(key, partition, state, exc, TICK, now)
        return CustomerResult(key, partition, after, encoded, signals, deadline)

    def deadline(self, key: bytes, partition: int, state: Any,
                 now: dt.datetime) -> tuple[dt.datetime | None, CustomerResult | None]:
        """A stored state's next deadline (rebuilding the due index), or its quarantine when it has none."""
        if state is None or is_quarantined(state):
            return None, None
        try:
            return self.fold.next_deadline(state), None
        except Exception as exc:  # noqa: BLE001 - e.g. a state written by an older version
            return None, self.set_aside(key, partition, state, exc, DEADLINE, now)

    def set_aside(self, key: bytes, partition: int, state: Any, exc: BaseException, stage: str,
                  now: dt.datetime) -> CustomerResult:
        """Quarantine a stored state outside any event (a tick, a rebuild)."""
        entry = quarantine(state, reason=describe_error(exc), stage=stage, partition=partition, offset=None, now=now)
        try:
            encoded = self.encode_state(entry)
        except Exception:  # noqa: BLE001 - the state itself cannot be stored: keep the record of why only
            entry = {**entry, "state": None, "quarantine": {**entry["quarantine"], "state_lost": True}}
            encoded = self.encode_state(entry)
        return CustomerResult(key, partition, entry, encoded, [], None,
                              notice(key.decode("utf-8", "replace"), entry, now=now), quarantined=True)


class _Refused(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(stage, reason)
        self.stage, self.reason = stage, reason


class _EventFault(_Refused):
    """A step failed because of the event: dead-letter it, the customer goes on."""


_UNKNOWN = object()  # "next deadline not computed yet" (None means "no deadline")
