"""Shipping delay: not shipped in time, ETA slips, carrier exceptions; one signal per order."""

from __future__ import annotations

import datetime as dt

import pytest

from detector_events import Tick, at, ev, run
from signals.detectors.shipping_delay import ShippingDelayConfig, ShippingDelayDetector

DETECTOR = ShippingDelayDetector()  # eta_margin 12 h, grace 5 min, ship_margin 0
SHIP_BY = at(hours=24)
DELIVER_BY = at(hours=72)


def placed(when=None, order="o1", **props):
    return ev("order.placed", when or at(0), order_id=order, amount=props.pop("amount", 80.0),
              promised_ship_by=SHIP_BY, promised_delivery_by=DELIVER_BY, **props)


def shipped(when, order="o1", eta=None, carrier="UPS"):
    extra = {} if eta is None else {"estimated_delivery_at": eta}
    return ev("order.shipped", when, order_id=order, carrier=carrier, **extra)


def updated(when, status, order="o1", eta=None, **props):
    extra = {} if eta is None else {"estimated_delivery_at": eta}
    return ev("shipment.updated", when, order_id=order, status=status, **extra, **props)


def closed(kind, when, order="o1"):
    return ev(f"order.{kind}", when, order_id=order)


MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)

# (steps, expected [(reason, slip_hours, detected_at)])
CASES = {
    "not shipped": ([placed(), Tick(SHIP_BY + 5 * MIN)], [("not_shipped", 0.08, SHIP_BY + 5 * MIN)]),
    "inside grace": ([placed(), Tick(SHIP_BY + 4 * MIN)], []),
    "shipped in time": ([placed(), shipped(SHIP_BY - HOUR), Tick(SHIP_BY + 30 * HOUR)], []),
    # shipped before the deadline, reported late but within the grace: cancels the pending signal
    "late ship event within grace cancels": (
        [placed(), Tick(SHIP_BY + MIN), shipped(SHIP_BY - HOUR), Tick(SHIP_BY + HOUR)], []
    ),
    # shipped two hours late: the absence stands and the ship time gives the slip
    "shipped late": (
        [placed(), shipped(SHIP_BY + 2 * HOUR), Tick(SHIP_BY + 3 * HOUR)],
        [("not_shipped", 2.0, SHIP_BY + 3 * HOUR)],
    ),
    "eta slips past margin": (
        [placed(), shipped(at(hours=20), eta=DELIVER_BY + 13 * HOUR)], [("eta_slip", 13.0, at(hours=20))]
    ),
    "eta inside margin": ([placed(), shipped(at(hours=20), eta=DELIVER_BY + 11 * HOUR)], []),
    "eta changed update slips": (
        [placed(), shipped(at(hours=20)), updated(at(hours=30), "eta_changed", eta=DELIVER_BY + 24 * HOUR)],
        [("eta_slip", 24.0, at(hours=30))],
    ),
    # an older slipping ETA arriving after a newer fine one is ignored (event time wins)
    "reordered etas": (
        [placed(), shipped(at(hours=20), eta=DELIVER_BY), updated(at(hours=40), "in_transit", eta=DELIVER_BY),
         updated(at(hours=30), "eta_changed", eta=DELIVER_BY + 48 * HOUR)],
        [],
    ),
    "exception": (
        [placed(), shipped(at(hours=20)), updated(at(hours=30), "exception", exception_code="DAMAGED")],
        [("exception", None, at(hours=30))],
    ),
    # one signal per order episode whatever happens next
    "exception then slip": (
        [placed(), shipped(at(hours=20)), updated(at(hours=30), "exception"),
         updated(at(hours=31), "eta_changed", eta=DELIVER_BY + 48 * HOUR)],
        [("exception", None, at(hours=30))],
    ),
    "not shipped then exception": (
        [placed(), Tick(SHIP_BY + 5 * MIN), shipped(SHIP_BY + 3 * HOUR), updated(at(hours=30), "exception")],
        [("not_shipped", 0.08, SHIP_BY + 5 * MIN)],
    ),
    "delivered forgets": ([placed(), closed("delivered", at(hours=10)), Tick(SHIP_BY + 10 * HOUR)], []),
    # cancelled before the deadline, reported within the grace: the pending signal is cancelled
    "late cancel within grace": (
        [placed(), Tick(SHIP_BY + MIN), closed("cancelled", SHIP_BY - MIN), Tick(SHIP_BY + HOUR)], []
    ),
    # delivery seen before the placement (reordered): the order does not come back to life
    "delivered before placed": ([closed("delivered", at(hours=50)), placed(), Tick(SHIP_BY + HOUR)], []),
    # carrier events before the order: kept on a partial entry, judged once the order is known
    "carrier event before placed": (
        [shipped(at(hours=20), eta=DELIVER_BY + 20 * HOUR), placed(at(hours=21))],
        [("eta_slip", 20.0, at(hours=21))],
    ),
    "two orders": (
        [placed(order="o1"), placed(order="o2"), shipped(SHIP_BY - HOUR, order="o2"), Tick(SHIP_BY + HOUR)],
        [("not_shipped", 1.0, SHIP_BY + HOUR)],
    ),
}


@pytest.mark.parametrize("steps, expected", CASES.values(), ids=CASES.keys())
def test_shipping_delay_cases(steps, expected):
    _, signals = run(DETECTOR, steps)
    got = [(s.reason, s.attributes["slip_hours"], s.detected_at) for s in signals]
    assert got == expected


def test_signal_carries_order_facts():
    eta = DELIVER_BY + 20 * HOUR
    _, [signal] = run(DETECTOR, [placed(amount=120.0, currency="EUR", items=2), shipped(at(hours=5), eta=eta)])
    assert signal.episode_key == "shipping_delay:c1:o1"
    assert signal.attributes == {
        "order_id": "o1", "amount": 120.0, "currency": "EUR", "items": 2,
        "promised_ship_by": SHIP_BY.isoformat(timespec="microseconds"),
        "promised_delivery_by": DELIVER_BY.isoformat(timespec="microseconds"),
        "estimated_delivery_at": eta.isoformat(timespec="microseconds"), "carrier": "UPS",
        "shipped_at": at(hours=5).isoformat(timespec="microseconds"), "slip_hours": 20.0, "reason": "eta_slip",
    }


def test_ship_margin_moves_the_deadline():
    detector = ShippingDelayDetector(ShippingDelayConfig(ship_margin=2 * HOUR, grace=dt.timedelta(0)))
    state, _ = run(detector, [placed()])
    assert detector.next_deadline(state) == SHIP_BY + 2 * HOUR
    _, signals = run(detector, [Tick(SHIP_BY + HOUR), Tick(SHIP_BY + 2 * HOUR)], state)
    assert [s.attributes["slip_hours"] for s in signals] == [2.0]


@pytest.mark.parametrize(
    "steps, deadline",
    [
        ([], None),
        ([placed()], SHIP_BY + 5 * MIN),
        ([placed(), shipped(at(hours=1))], None),  # shipped in time: nothing pending
        ([placed(), shipped(SHIP_BY + HOUR)], SHIP_BY + 5 * MIN),  # shipped late: still due
        ([placed(), Tick(SHIP_BY + HOUR)], None),  # already emitted
    ],
)
def test_next_deadline(steps, deadline):
    state, _ = run(DETECTOR, steps)
    assert DETECTOR.next_deadline(state) == deadline


OLD_ORDERS = [f"old{n}" for n in range(8)]


@pytest.mark.parametrize(
    "next_order_at, kept",
    [
        (DELIVER_BY + dt.timedelta(days=29), {*OLD_ORDERS, "new"}),
        (DELIVER_BY + dt.timedelta(days=30), {"new"}),  # the old ones are forget_after past their promise
    ],
)
def test_unclosed_orders_are_forgotten_when_they_pile_up(next_order_at, kept):
    steps = [placed(order=order) for order in OLD_ORDERS] + [Tick(SHIP_BY + HOUR), placed(next_order_at, order="new")]
    state, _ = run(DETECTOR, steps)
    assert set(state["orders"]) == kept


def test_orders_stay_bounded():
    detector = ShippingDelayDetector(ShippingDelayConfig(max_orders=5, remember_closed=3))
    steps = [placed(at(n), order=f"o{n}") for n in range(12)]
    steps += [closed("delivered", at(100 + n), order=f"o{n}") for n in range(12)]
    state, _ = run(detector, steps)
    assert len(state["orders"]) <= 5
    assert len(state["closed"]) == 3
