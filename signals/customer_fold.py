"""The per-customer fold: dedup once, then every detector and the risk-model features.

One customer's whole stream state is one JSON-able dict (a Faust table value)::

    {"customer_id": "c1",
     "watermark": "2026-11-22T10:00:00.000000+00:00",   # latest occurred_at folded (UTC ISO)
     "seen": ["Qx3f...", ...],                          # recent event id digests in chunks, oldest first
     "late_events": 0,                                   # events beyond allowed_lateness (folded anyway)
     "detectors": {"shipping_delay": {...}, "usage_drop": {...}, "checkout_idle": {...}},
     "features": {...},                                  # signals.features state
     "profile": {...}}                                   # latest customer.profile facts (for context)

Context: every emitted signal carries ``context = {"customer": profile facts, "features":
{name: value}}`` as of its ``detected_at``, so the trigger stage scores and applies policy (time
zone, phone area code, consent flags) from the signal alone, with no lookup that could race the
stream.

Duplicates: an ``event_id`` among the customer's last ``dedup_window`` ids (at least; up to a
quarter more) changes nothing at all (no detector, no feature). Each id is kept as its
``event_digest``: 12 base64 characters of a 72-bit BLAKE2b digest, whatever the id's length (two
different ids in one window collide with probability about ``window / 2**72``). A chunk is one
string of ``dedup_window // 8`` concatenated digests, so folding an event copies one small string
and the state serialises as a few flat strings instead of a dict per id (the JSON of an active
customer's window shrank from ~20 KB of dict entries to ~12 KB of plain text, and encodes ~5x
faster). Older states whose chunks are dicts of raw ids are converted on their next event.

Lateness: an event more than ``allowed_lateness`` behind this customer's watermark is still
folded, and counted in ``late_events`` so the agent can report it. Folding it is safe: every
detector lets such an event cancel or push what is still pending and never retracts what was
emitted (see ``signals.detectors.base``); how long absence detectors wait for late events before
emitting is each detector's own ``grace`` (seconds for checkout idle, ``allowed_lateness`` for
shipping and usage in ``default_fold``).

Routing: a detector with an ``event_types`` attribute only sees those event types.

Event time: ``advance(state, until)`` fires every deadline up to ``until``, each at its own time;
the worker calls it before folding a customer's event (up to its ``occurred_at``) and on ticks.
``replay`` is the offline runner (backtests, notebooks, golden tests) over the same fold and the
same per-customer event time, so both give the same signals for the same events. A
backtest runs it on a fold without features and keeps them in a ``ReplayFeatures`` instead (fed
through ``replay(..., on_fold=...)``): the same values, folded in place rather than copied per
event, and read only when a signal is scored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any, Callable, Iterable, Iterator, Sequence

from infra.settings import DetectorSettings, get_settings
from signals import features as feature_fold
from signals.detectors.base import Detector, iso
from signals.detectors.checkout_idle import CheckoutIdleConfig, CheckoutIdleDetector
from signals.detectors.shipping_delay import ShippingDelayConfig, ShippingDelayDetector
from signals.detectors.usage_drop import UsageDropConfig, UsageDropDetector
from signals.dedup_window import DIGEST_CHARS, event_digest, in_chunk, upgrade_seen
from signals.profile_facts import PROFILE_FIELDS, fold_profile
from signals.signal import Signal
from signals.fold_domain import EARLIEST, LATEST, check_span, clamp, in_domain

__all__ = ["PROFILE_FIELDS", "CustomerFold", "ReplayFeatures", "default_fold", "event_digest", "fold_profile",
           "replay"]

DEFAULT_ALLOWED_LATENESS = dt.timedelta(minutes=5)
# Deadlines fired one by one, each at its own time, before the rest are fired in one step (a
# customer silent for years would otherwise be ticked once per day of silence).
MAX_STEPS = 1000


def default_detectors() -> list[Detector]:
    """The three detectors with their documented default configuration."""
    return [ShippingDelayDetector(), UsageDropDetector(), CheckoutIdleDetector()]


class CustomerFold:
    """Composes detectors and features for one customer; pure, state in and state out.

    Total: every instant it hands the detectors (event times, promised dates, a tick's ``now``) is
    first kept inside ``signals.fold_domain`` (``earliest`` .. ``latest``), so no accepted event
    and no ``now`` can overflow a detector's date arithmetic.
    """

    earliest = EARLIEST
    latest = LATEST

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        *,
        allowed_lateness: dt.timedelta = DEFAULT_ALLOWED_LATENESS,
        dedup_window: int = 1000,
        features: Any = feature_fold,
    ) -> None:
        if dedup_window < 1:
            raise ValueError("dedup_window must be at least 1")
        self.detectors: tuple[Detector, ...] = tuple(default_detectors() if detectors is None else detectors)
        kinds = [d.kind for d in self.detectors]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"detector kinds must be unique, got {kinds}")
        self.allowed_lateness = allowed_lateness
        check_span("allowed_lateness", allowed_lateness)
        for detector in self.detectors:  # their durations must fit in the domain's margins
            config = getattr(detector, "config", None)
            if dataclasses.is_dataclass(config):
                for item in dataclasses.fields(config):
                    value = getattr(config, item.name)
                    if isinstance(value, dt.timedelta):
                        check_span(f"{detector.kind}.{item.name}", value)
        self._routes: dict[str, tuple[Detector, ...]] = {}
        self.dedup_window = dedup_window
        self._chunk = max(1, dedup_window // 8)
        self._max_chunks = -(-dedup_window // self._chunk) + 1  # one spare: never fewer than the window
        self._chunk_chars = self._chunk * DIGEST_CHARS
        # Anything with initial_state() and on_event(state, event); None folds no features.
        self.features = features

    def initial_state(self) -> dict[str, Any]:
        """The state of a customer never seen before."""
        return {
            "customer_id": None,
            "watermark": None,
            "seen": [],
            "late_events": 0,
            "detectors": {d.kind: d.initial_state() for d in self.detectors},
            "features": None if self.features is None else self.features.initial_state(),
            "profile": None,
        }

    def on_event(self, state: dict[str, Any] | None, event: Any) -> tuple[dict[str, Any], list[Signal]]:
        """Fold one event (duplicates change nothing); returns the new state and signals."""
        if state is None:
            state = self.initial_state()
        event = in_domain(event)
        digest = event_digest(event.event_id)
        chunks = state["seen"]
        if chunks and not isinstance(chunks[-1], str):
            chunks = upgrade_seen(chunks)
        for chunk in chunks:
            if digest in chunk and in_chunk(chunk, digest):
                return state, []
        if chunks and len(chunks[-1]) < self._chunk_chars:
            seen = chunks[:-1]
            seen.append(chunks[-1] + digest)
        else:
            seen = chunks[1:] if len(chunks) >= self._max_chunks else list(chunks)
            seen.append(digest)

        occurred = iso(event.occurred_at)
        watermark = state["watermark"]
        late_events = state["late_events"]
        if watermark is None or occurred > watermark:
            watermark = occurred
        elif iso(event.occurred_at + self.allowed_lateness) < watermark:
            late_events += 1

        new_states, signals = _step(self._route(event.type), state["detectors"],
                                    lambda detector, before: detector.on_event(before, event))

        features = state["features"] if self.features is None else self.features.on_event(state["features"], event)
        new_state = {
            "customer_id": state["customer_id"] or event.customer_id,
            "watermark": watermark,
            "seen": seen,
            "late_events": late_events,
            "detectors": new_states,
            "features": features,
            "profile": fold_profile(state.get("profile"), event),
        }
        return new_state, (self._with_context(new_state, signals) if signals else signals)

    def _with_context(self, state: dict[str, Any], signals: list[Signal]) -> list[Signal]:
        """Attach the customer facts and feature values at each signal's detection time."""
        if not signals:
            return signals
        customer = dict(state.get("profile") or {})
        customer.pop("as_of", None)
        out = []
        for signal in signals:
            context: dict[str, Any] = {"customer": customer}
            if self.features is not None and hasattr(self.features, "vector"):
                context["features"] = feature_values(self.features, state["features"], signal.detected_at)
            out.append(signal.model_copy(update={"context": context}))
        return out

    def _route(self, event_type: str) -> tuple[Detector, ...]:
        """The detectors that react to ``event_type`` (all of them if one does not say)."""
        route = self._routes.get(event_type)
        if route is None:
            route = tuple(
                d for d in self.detectors if event_type in getattr(d, "event_types", (event_type,))
            )
            self._routes[event_type] = route
        return route

    def on_tick(self, state: dict[str, Any] | None, now: dt.datetime) -> tuple[dict[str, Any], list[Signal]]:
        """Let every detector emit the absences that ``now`` (event time) proves."""
        if state is None:
            return self.initial_state(), []
        now = clamp(now)
        new_states, signals = _step(self.detectors, state["detectors"],
                                    lambda detector, before: detector.on_tick(before, now))
        if new_states is state["detectors"]:
            return state, (self._with_context(state, signals) if signals else signals)
        new_state = {**state, "detectors": new_states}
        return new_state, (self._with_context(new_state, signals) if signals else signals)

    def next_deadline(self, state: dict[str, Any]) -> dt.datetime | None:
        """The earliest ``now`` at which ``on_tick`` could emit for this customer."""
        if state is None:
            return None
        states = state["detectors"]
        earliest: dt.datetime | None = None
        for detector in self.detectors:
            deadline = detector.next_deadline(states[detector.kind])
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def advance(self, state: dict[str, Any] | None, until: dt.datetime, *,
                tick_every: dt.timedelta | None = None) -> tuple[dict[str, Any], list[Signal]]:
        """Fire every deadline at or before ``until``, each at its own time (event time, not ``until``).

        What makes the worker, a catch-up and ``replay`` agree: before an event is folded, the
        customer's deadlines up to its ``occurred_at`` fire this way; a wall-clock tick fires them
        up to now. ``detected_at`` is the deadline itself (with ``tick_every``, the next multiple
        of it, like a periodic timer), so it does not depend on when the tick ran. After
        ``MAX_STEPS`` deadlines the rest fire in one ``on_tick(state, until)``.
        """
        state = self.initial_state() if state is None else state
        until = clamp(until)
        signals: list[Signal] = []
        for _ in range(MAX_STEPS):
            deadline = self.next_deadline(state)
            if deadline is None:
                return state, signals
            now = deadline if tick_every is None else _ceil_to(deadline, tick_every)
            if now > until:
                return state, signals
            state, fired = self.on_tick(state, now)
            signals.extend(fired)
            after = self.next_deadline(state)
            if after is not None and after <= now:
                raise RuntimeError(f"detector deadline did not advance past {now}")
        state, fired = self.on_tick(state, until)
        signals.extend(fired)
        return state, signals


def feature_values(features: Any, state: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """``{name: value}`` as a signal's context carries them (JSON-able: nan becomes None)."""
    values = features.vector(state, now)
    return {
        name: (None if isinstance(v, float) and math.isnan(v) else v) for name, v in zip(features.FEATURE_NAMES, values)
    }


class ReplayFeatures:
    """Every customer's features for an offline ``replay`` of a fold without them (``features=None``).

    Pass ``on_fold`` to ``replay``: it sees exactly the events the fold takes (duplicates
    excluded), before their signals come out, so ``values(customer_id, signal.detected_at)``
    equals the ``context["features"]`` the fold itself would attach. The states belong to this
    object alone, so a features module with ``fold_in_place`` (``signals.features``) updates them
    without the copy ``on_event`` makes for every event.
    """

    def __init__(self, features: Any = feature_fold) -> None:
        self.features = features
        self._states: dict[str, Any] = {}
        self._in_place = getattr(features, "fold_in_place", None)

    def on_fold(self, customer_id: str, event: Any) -> None:
        """Fold one event the customer fold took (its times kept in the fold's domain, as the fold does)."""
        event = in_domain(event)
        state = self._states.get(customer_id)
        if state is None:
            state = self.features.initial_state()
        if self._in_place is not None:
            self._in_place(state, event)
        else:
            state = self.features.on_event(state, event)
        self._states[customer_id] = state

    def values(self, customer_id: str, now: dt.datetime) -> dict[str, Any]:
        """The customer's feature values as of ``now`` (see ``feature_values``)."""
        state = self._states.get(customer_id)
        return feature_values(self.features, self.features.initial_state() if state is None else state, now)


def _step(detectors: Iterable[Detector], states: dict[str, Any],
          step: Any) -> tuple[dict[str, Any], list[Signal]]:
    """Run ``step(detector, its state)`` for each detector; the states dict is copied only on change."""
    signals: list[Signal] = []
    new_states = states
    for detector in detectors:
        kind = detector.kind
        before = states[kind]
        after, emitted = step(detector, before)
        if after is not before:
            if new_states is states:
                new_states = dict(states)
            new_states[kind] = after
        if emitted:
            signals.extend(emitted)
    return new_states, signals


def default_fold(settings: DetectorSettings | None = None) -> CustomerFold:
    """The fold configured by its settings slice (detectors, feature spec; from the environment when ``None``)."""
    if settings is None:
        settings = get_settings().detectors
    lateness = dt.timedelta(seconds=settings.allowed_lateness_seconds)
    return CustomerFold(
        [
            ShippingDelayDetector(
                ShippingDelayConfig(eta_margin=dt.timedelta(hours=settings.shipping_eta_margin_hours), grace=lateness)
            ),
            UsageDropDetector(
                UsageDropConfig(
                    recent_days=settings.usage_recent_days,
                    baseline_days=settings.usage_baseline_days,
                    grace=lateness,
                )
            ),
            CheckoutIdleDetector(CheckoutIdleConfig(idle_after=dt.timedelta(seconds=settings.checkout_idle_seconds))),
        ],
        allowed_lateness=lateness,
        features=feature_fold.from_settings(settings.features),
    )


def _ceil_to(value: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """The first multiple of ``step`` since the Unix epoch at or after ``value``."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    steps = -((value - epoch) // -step)
    return epoch + steps * step


def replay(
    events: Iterable[Any],
    fold: CustomerFold | None = None,
    *,
    tick_every: dt.timedelta | None = None,
    on_fold: Callable[[str, Any], None] | None = None,
    until: dt.datetime | None = None,
) -> Iterator[Signal]:
    """Run the fold over a stream offline, yielding the signals a live worker would, in its order.

    Events are taken in the given order (nothing is sorted). Each customer lives in its own event
    time, exactly as in the worker (``signals.stream_batch``): before one of its events is folded,
    its deadlines at or before that event's ``occurred_at`` fire (``CustomerFold.advance``);
    another customer's events never make this one's late (partitions of a topic advance
    independently, so no clock shared by all customers exists in the worker either). At the end,
    every customer is advanced to ``until`` (default: the last event time), earliest deadline
    first, as a worker's ticks do once it has read everything. ``on_fold(customer_id, event)`` is
    called for every event the fold takes (not for duplicates), before the signals it proves.
    """
    if tick_every is not None and tick_every <= dt.timedelta(0):
        raise ValueError("tick_every must be positive")
    fold = fold or default_fold()
    states: dict[str, dict[str, Any]] = {}
    deadlines: dict[str, dt.datetime | None] = {}
    last: dt.datetime | None = None
    for event in events:
        occurred = event.occurred_at
        if last is None or occurred > last:
            last = occurred
        customer_id = event.customer_id
        before = states.get(customer_id)
        deadline = deadlines.get(customer_id)
        if deadline is not None and deadline <= occurred:
            before, signals = fold.advance(before, occurred, tick_every=tick_every)
            states[customer_id] = before
            deadlines[customer_id] = fold.next_deadline(before)
            yield from signals
        state, signals = fold.on_event(before, event)
        if state is before and not signals:
            continue  # a duplicate: CustomerFold.on_event hands the state back untouched
        states[customer_id] = state
        if on_fold is not None and state is not before:
            on_fold(customer_id, event)
        yield from signals
        if before is None or state["detectors"] is not before["detectors"]:  # else: same deadline
            deadlines[customer_id] = fold.next_deadline(state)
    end = until if until is not None else last
    if end is None:
        return
    due = sorted((d, c) for c, d in deadlines.items() if d is not None and d <= end)
    for _, customer_id in due:
        states[customer_id], signals = fold.advance(states[customer_id], end, tick_every=tick_every)
        yield from signals
