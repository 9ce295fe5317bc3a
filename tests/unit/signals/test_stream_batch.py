"""signals.stream_batch: every stage isolates its record or customer; quarantine holds, release refolds.

The real fold (``default_fold``) runs throughout; ``BrittleFold`` adds the state-level bugs a real
fold should not have (a state its deadline or tick cannot handle), switched on by a profile plan,
so the quarantine paths are exercised without patching our code.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest

from signals.changelog import StateCodec
from signals.customer_fold import CustomerFold, default_fold
from signals.quarantine import RELEASE, is_quarantined, release_request
from signals.stream_batch import InputRecord, StreamBatch

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
AGO = NOW - dt.timedelta(hours=1)
DAY = dt.timedelta(hours=24)


class BrittleFold(CustomerFold):
    """The real fold, plus bugs that depend on the state: a profile plan names the broken step."""

    def __init__(self) -> None:
        fold = default_fold()
        super().__init__(fold.detectors, allowed_lateness=fold.allowed_lateness)
        self.fixed = False  # "a fix was deployed": the bugs are gone

    def _broken(self, state: Any, step: str) -> bool:
        plan = ((state or {}).get("profile") or {}).get("plan")
        return not self.fixed and plan == step

    def next_deadline(self, state: Any) -> Any:
        if self._broken(state, "deadline"):
            raise RuntimeError("deadline bug")
        return super().next_deadline(state)

    def on_event(self, state: Any, event: Any) -> Any:
        if self._broken(state, "fold") and event.type != "customer.profile":
            raise KeyError("fold bug")
        return super().on_event(state, event)

    def on_tick(self, state: Any, now: dt.datetime) -> Any:
        if self._broken(state, "tick"):
            raise ValueError("tick bug")
        return super().on_tick(state, now)


def raw(customer: str, n: int, type_: str, at: dt.datetime = AGO, **props: Any) -> bytes:
    return json.dumps({"event_id": f"{customer}-{n}", "customer_id": customer, "type": type_,
                       "occurred_at": at.isoformat(), "properties": props}).encode()


def started(customer: str, n: int, checkout: str = "k1", at: dt.datetime = AGO, **props: Any) -> bytes:
    return raw(customer, n, "checkout.started", at, checkout_id=checkout, **props)


def profile(customer: str, n: int, plan: str) -> bytes:
    return raw(customer, n, "customer.profile", AGO, plan=plan)


class Harness:
    """A table in a dict, the pure batch core, and a running offset."""

    def __init__(self, fold: Any = None, **options: Any) -> None:
        self.fold = fold or default_fold()
        self.batch = StreamBatch(self.fold, encode_state=StateCodec().dumps,
                                 encode_signal=lambda s: orjson.dumps(s.to_dict(), option=orjson.OPT_NON_STR_KEYS),
                                 max_future=DAY, **options)
        self.table: dict[bytes, Any] = {}
        self.offset = 0
        self.failures: list[tuple[int, str, str]] = []  # (offset, stage, reason)
        self.signals: list[tuple[bytes, dict]] = []
        self.notices: list[dict] = []

    def record(self, payload: bytes | None, key: bytes | None, control: str | None = None) -> InputRecord:
        self.offset += 1
        return InputRecord(raw=payload, key=key, partition=0, offset=self.offset, control=control)

    def feed(self, *records: InputRecord, now: dt.datetime = NOW) -> None:
        result = self.batch.fold_records(list(records), self.table.get, now)
        for customer in result.customers:
            self.apply(customer)
        self.failures += [(f.record.offset, f.stage, f.reason) for f in result.failures]

    def tick(self, now: dt.datetime = NOW) -> None:
        for key, state in list(self.table.items()):
            result = self.batch.tick(key, 0, state, now)
            if result is not None:
                self.apply(result)

    def apply(self, customer: Any) -> None:
        if customer.encoded:
            assert orjson.loads(customer.encoded) == json.loads(json.dumps(customer.state))
            self.table[customer.key] = orjson.loads(customer.encoded)  # as another worker would read it
        self.signals += [(customer.key, json.loads(value)) for _, value in customer.signals]
        if customer.notice:
            self.notices.append(customer.notice)

    def episodes(self) -> list[str]:
        return [s["episode_key"] for _, s in self.signals]


FAR_FUTURE = "9999-12-31T23:59:59+00:00"


@pytest.mark.parametrize("payload, key, stage, reason_part", [
    (b"{not json", b"c2", "signals.parse", "Invalid JSON"),
    (b"\xff\xfe not utf-8", b"c2", "signals.parse", "invalid event"),
    (raw("c2", 1, "checkout.started"), b"c2", "signals.parse", "properties.checkout_id"),  # wrong shape
    (started("c2", 1), b"c9", "signals.key", "does not match customer_id"),
    (json.dumps({"event_id": "x", "customer_id": "c2", "type": "checkout.started", "occurred_at": FAR_FUTURE,
                 "properties": {"checkout_id": "k"}}).encode(), b"c2", "signals.event_time", "in the future"),
    (started("c2", 1, items=10**40), b"c2", "signals.parse", "items"),  # past int64: the envelope refuses it
], ids=["not-json", "not-utf8", "wrong-shape", "key-mismatch", "far-future", "past-int64"])
def test_a_bad_record_is_dead_lettered_with_its_stage_and_its_batch_goes_on(payload, key, stage, reason_part):
    h = Harness()
    h.feed(h.record(started("c1", 1), b"c1"), h.record(payload, key), h.record(started("c3", 1), b"c3"),
           h.record(started("c2", 2, checkout="k2"), b"c2"))
    [(offset, got_stage, reason)] = h.failures
    assert (offset, got_stage) == (2, stage) and reason_part in reason
    h.tick()
    assert sorted(h.episodes()) == ["checkout_idle:c1:k1", "checkout_idle:c2:k2", "checkout_idle:c3:k1"]


def test_an_unencodable_signal_is_dead_lettered_and_the_state_before_it_kept():
    h = Harness()
    encode = h.batch.encode_signal

    def refuse_eta_slip(signal: Any) -> bytes:
        if signal.reason == "eta_slip":
            raise TypeError("Integer exceeds 64-bit range")
        return encode(signal)

    h.batch.encode_signal = refuse_eta_slip
    placed = raw("c1", 1, "order.placed", AGO, order_id="o1", amount=5.0, promised_ship_by=(NOW + DAY).isoformat(),
                 promised_delivery_by=(NOW + 2 * DAY).isoformat())
    slipped = raw("c1", 2, "shipment.updated", AGO, order_id="o1", status="eta_changed",
                  estimated_delivery_at=(NOW + 9 * DAY).isoformat())
    h.feed(h.record(placed, b"c1"), h.record(slipped, b"c1"))
    assert [(o, s) for o, s, _ in h.failures] == [(2, "signals.encode")]
    assert h.table[b"c1"]["detectors"]["shipping_delay"]["orders"]["o1"]["fired"] is False  # not remembered


def test_a_fold_that_fails_for_any_state_dead_letters_the_event_only():
    class Exploding(CustomerFold):
        def on_event(self, state, event):
            if event.type == "order.cancelled":
                raise RuntimeError("bug on this event")
            return super().on_event(state, event)

    h = Harness(Exploding())
    h.feed(h.record(started("c1", 1), b"c1"), h.record(raw("c1", 2, "order.cancelled", order_id="o"), b"c1"),
           h.record(started("c1", 3, checkout="k2"), b"c1"))
    assert [(o, s) for o, s, _ in h.failures] == [(2, "signals.fold")]
    assert not is_quarantined(h.table[b"c1"])
    assert set(h.table[b"c1"]["detectors"]["checkout_idle"]["open"]) == {"k1", "k2"}


@pytest.mark.parametrize("broken, stage", [
    ("deadline", "signals.deadline"),  # the state's next deadline raises
    ("fold", "signals.fold"),  # the fold raises for this state, not for a fresh one
])
def test_a_state_that_cannot_be_folded_is_quarantined_holding_later_events_and_released(broken, stage):
    fold = BrittleFold()
    h = Harness(fold)
    h.feed(h.record(started("c1", 1), b"c1"), h.record(started("c2", 1), b"c2"))
    h.feed(h.record(profile("c1", 2, broken), b"c1"), h.record(started("c1", 3, checkout="k2"), b"c1"),
           h.record(started("c2", 2, checkout="k2"), b"c2"))
    entry = h.table[b"c1"]
    assert is_quarantined(entry) and entry["quarantine"]["stage"] == stage
    assert [item["offset"] for item in entry["held"]] == ([3, 4] if broken == "deadline" else [4])
    assert h.notices[-1]["status"] == "quarantined" and h.notices[-1]["customer_id"] == "c1"
    h.feed(h.record(started("c1", 4, checkout="k3"), b"c1"))  # later events are held, never dropped
    assert len(h.table[b"c1"]["held"]) == len(entry["held"]) + 1 and h.failures == []
    h.tick()  # a quarantined customer is not ticked; the others are
    assert sorted(h.episodes()) == ["checkout_idle:c2:k1", "checkout_idle:c2:k2"]

    fold.fixed = True  # the fix is deployed; the operator releases the customer
    key, value, headers = release_request("c1", reset=False, requested_by="ops", now=NOW)
    h.feed(h.record(value, key, control=dict(headers)["retain-control"].decode()))
    state = h.table[b"c1"]
    assert not is_quarantined(state) and h.notices[-1]["status"] == "released"
    h.tick()
    assert "checkout_idle:c1:k1" in h.episodes()  # nothing of what it held was lost
    assert {"checkout_idle:c1:k2", "checkout_idle:c1:k3"} <= set(h.episodes())


def test_a_release_that_fails_again_quarantines_again_and_reset_starts_from_a_fresh_state():
    fold = BrittleFold()
    h = Harness(fold)
    h.feed(h.record(started("c1", 1), b"c1"), h.record(profile("c1", 2, "tick"), b"c1"))
    h.tick()  # the tick cannot handle this state
    assert h.table[b"c1"]["quarantine"]["stage"] == "signals.tick"
    h.feed(h.record(started("c1", 3, checkout="k2"), b"c1"))
    key, value, _ = release_request("c1", reset=True, requested_by="ops", now=NOW)
    h.feed(h.record(value, key, control=RELEASE))
    state = h.table[b"c1"]
    assert not is_quarantined(state)  # a fresh state folded the held k2 only
    assert set(state["detectors"]["checkout_idle"]["open"]) == {"k2"}


def test_a_full_hold_dead_letters_with_a_reason_that_says_so():
    h = Harness(BrittleFold(), max_held=2)
    h.feed(h.record(profile("c1", 1, "deadline"), b"c1"))  # quarantined, holding that event
    h.feed(*[h.record(started("c1", n, checkout=f"k{n}"), b"c1") for n in range(2, 5)])
    assert [(o, s) for o, s, _ in h.failures] == [(3, "signals.quarantine"), (4, "signals.quarantine")]
    assert "hold is full" in h.failures[0][2] and "retain quarantine release" in h.failures[0][2]
    assert h.table[b"c1"]["dead_lettered"] == 2 and h.notices[-1]["dead_lettered"] == 2


def test_a_stored_state_the_rebuild_cannot_schedule_is_set_aside():
    h = Harness()
    corrupt = {"customer_id": "c1", "detectors": "garbage"}  # e.g. written by an older version
    deadline, aside = h.batch.deadline(b"c1", 0, corrupt, NOW)
    assert deadline is None and aside.quarantined and aside.state["state"] == corrupt
    assert aside.notice["stage"] == "signals.deadline"
    assert h.batch.deadline(b"c2", 0, default_fold().initial_state(), NOW) == (None, None)


def test_unknown_control_records_are_dead_lettered():
    h = Harness()
    h.feed(h.record(b"{}", b"c1", control="something.else"), h.record(b"not json", b"c1", control=RELEASE))
    assert [(o, s) for o, s, _ in h.failures] == [(1, "signals.control"), (2, "signals.control")]


def test_deadlines_fire_before_the_event_that_passes_them_within_one_batch():
    # Issue 11 finding 3: started and abandoned in one bulk batch; the idle deadline (95 s)
    # passed before the abandonment (200 s), so the checkout was idle.
    h = Harness()
    h.feed(h.record(started("c1", 1), b"c1"),
           h.record(raw("c1", 2, "checkout.abandoned", AGO + dt.timedelta(seconds=200), checkout_id="k1"), b"c1"))
    assert h.episodes() == ["checkout_idle:c1:k1"]
    assert dt.datetime.fromisoformat(h.signals[0][1]["detected_at"]) == AGO + dt.timedelta(seconds=95)


def test_the_event_that_quarantines_a_customer_is_dead_lettered_if_it_does_not_fit_the_hold():
    h = Harness(BrittleFold(), max_held_bytes=10)
    h.feed(h.record(started("c1", 1), b"c1"), h.record(profile("c1", 2, "deadline"), b"c1"))
    assert is_quarantined(h.table[b"c1"]) and h.table[b"c1"]["held"] == []
    assert [(o, s) for o, s, _ in h.failures] == [(2, "signals.quarantine")]
    assert set(h.table[b"c1"]["state"]["detectors"]["checkout_idle"]["open"]) == {"k1"}  # the good state is kept


class UnstorableFold:
    """The default fold, except that one customer's state holds a value the changelog codec refuses."""

    def __init__(self) -> None:
        self.inner = default_fold()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def on_event(self, state: Any, event: Any) -> Any:
        new, signals = self.inner.on_event(state, event)
        if event.customer_id == "c2":
            new = {**new, "unstorable": 10**40}  # orjson stores no integer past 64 bits
        return new, signals


def test_a_state_that_cannot_be_stored_is_dead_lettered_at_the_encode_stage_and_the_batch_goes_on():
    h = Harness(fold=UnstorableFold())
    h.feed(h.record(started("c1", 1), b"c1"), h.record(started("c2", 1), b"c2"), h.record(started("c3", 1), b"c3"))
    [(offset, stage, reason)] = h.failures
    assert (offset, stage) == (2, "signals.state_encode") and "could not be stored" in reason
    h.tick()
    assert sorted(h.episodes()) == ["checkout_idle:c1:k1", "checkout_idle:c3:k1"]
