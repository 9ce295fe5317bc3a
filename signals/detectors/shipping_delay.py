"""Shipping delay: an order that will reach the customer later than promised.

Three ways an order episode becomes a delay, at most ONE signal per order
(``episode_key = "shipping_delay:{customer}:{order_id}"``):

* ``not_shipped`` (absence, ``on_tick``): no ``order.shipped`` before ``promised_ship_by +
  ship_margin``. Emitted once ``now >= promised_ship_by + ship_margin + grace``; an
  ``order.shipped`` that happened before the deadline cancels it even when it arrives late (within
  the grace); one that happened after the deadline does not (it shipped late), and its time gives
  the slip. ``slip_hours`` is measured from ``promised_ship_by`` to the ship time, or to ``now``.
* ``eta_slip`` (``on_event``): the carrier's ``estimated_delivery_at`` (on ``order.shipped`` or
  ``shipment.updated``) is later than ``promised_delivery_by + eta_margin``. Out-of-order carrier
  updates are resolved by event time: an ETA older than the one already known is ignored.
* ``exception`` (``on_event``): ``shipment.updated`` with ``status="exception"``.

``order.delivered`` / ``order.cancelled`` forget the order (and cancel a pending ``not_shipped``
that is still within its grace); the id is remembered in a short list so events of a closed order
arriving late do not reopen it. Carrier events arriving before ``order.placed`` are kept on a
partial entry and judged once the order is known. Orders nobody closes are dropped once they
are ``forget_after`` past their promised delivery (swept when a new order arrives and 8 or more
are open), and at most ``max_orders`` are kept.

Attributes: ``order_id, amount, currency, items, promised_ship_by, promised_delivery_by,
estimated_delivery_at, carrier, shipped_at, slip_hours, reason`` (+ ``exception_code``).

Example:

>>> import datetime as dt
>>> from signals.events import parse_event
>>> placed = parse_event({"event_id": "e1", "customer_id": "c1", "type": "order.placed",
...     "occurred_at": "2026-11-20T09:00:00+00:00", "properties": {"order_id": "o1", "amount": 80,
...     "promised_ship_by": "2026-11-21T09:00:00+00:00",
...     "promised_delivery_by": "2026-11-24T09:00:00+00:00"}})
>>> detector = ShippingDelayDetector()
>>> state, _ = detector.on_event(detector.initial_state(), placed)
>>> now = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.timezone.utc)
>>> _, signals = detector.on_tick(state, now)
>>> signals[0].reason, signals[0].attributes["slip_hours"]
('not_shipped', 6.0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from signals.detectors.base import from_iso, hours, iso
from signals.signal import Signal

_TYPES = frozenset({"order.placed", "order.shipped", "shipment.updated", "order.delivered", "order.cancelled"})


@dataclass(frozen=True)
class ShippingDelayConfig:
    """Shipping delay settings; defaults are the product defaults."""

    eta_margin: dt.timedelta = dt.timedelta(hours=12)  # RETAIN_SHIPPING_ETA_MARGIN_HOURS
    ship_margin: dt.timedelta = dt.timedelta(0)  # tolerated lateness of the ship-by promise
    grace: dt.timedelta = dt.timedelta(minutes=5)  # wait for a late order.shipped
    forget_after: dt.timedelta = dt.timedelta(days=30)  # past promised delivery, unclosed orders go
    max_orders: int = 100
    remember_closed: int = 50


def _empty_order() -> dict[str, Any]:
    return {
        "placed": False, "amount": None, "currency": None, "items": None, "ship_by": None,
        "delivery_by": None, "first_seen": None, "shipped_at": None, "carrier": None,
        "eta": None, "eta_at": None, "exception": None, "fired": False, "due_at": None,
    }


class ShippingDelayDetector:
    """Emits one ``shipping_delay`` signal per late order (not shipped, ETA slip, exception)."""

    kind = "shipping_delay"

    event_types = _TYPES

    def __init__(self, config: ShippingDelayConfig | None = None) -> None:
        self.config = config or ShippingDelayConfig()

    def initial_state(self) -> dict[str, Any]:
        """No orders known."""
        return {"customer_id": None, "orders": {}, "closed": []}

    def on_event(self, state: dict[str, Any], event: Any) -> tuple[dict[str, Any], list[Signal]]:
        """Update the order's facts; emit ``eta_slip`` or ``exception`` when they prove a delay."""
        kind = event.type
        if kind not in _TYPES:
            return state, []
        props = event.properties
        order_id = props.order_id
        if order_id in state["closed"]:
            return state, []
        cfg = self.config
        orders = dict(state["orders"])
        new_state = {**state, "customer_id": state["customer_id"] or event.customer_id, "orders": orders}
        if kind in ("order.delivered", "order.cancelled"):
            orders.pop(order_id, None)
            new_state["closed"] = (state["closed"] + [order_id])[-cfg.remember_closed :]
            return new_state, []

        at = iso(event.occurred_at)
        order = dict(orders.get(order_id) or _empty_order())
        if order["first_seen"] is None or at < order["first_seen"]:
            order["first_seen"] = at
        if kind == "order.placed":
            ship_by = iso(props.promised_ship_by)
            order.update(
                placed=True, amount=props.amount, currency=props.currency, items=props.items,
                ship_by=ship_by, delivery_by=iso(props.promised_delivery_by),
                due_at=iso(props.promised_ship_by + cfg.ship_margin) if cfg.ship_margin else ship_by,
            )
            if len(orders) >= 8:  # sweeping costs a date computation: only when orders pile up
                self._forget_stale(orders, event.occurred_at)
        elif kind == "order.shipped":
            order["shipped_at"] = at if order["shipped_at"] is None else min(order["shipped_at"], at)
            order["carrier"] = props.carrier or order["carrier"]
            self._take_eta(order, props.estimated_delivery_at, at)
        else:  # shipment.updated
            self._take_eta(order, props.estimated_delivery_at, at)
            if props.status == "exception" and order["exception"] is None:
                order["exception"] = props.exception_code or props.description or "exception"

        signals: list[Signal] = []
        if order["placed"] and not order["fired"]:
            reason = "exception" if order["exception"] else "eta_slip" if self._eta_slips(order) else None
            if reason:
                order["fired"] = True
                signals.append(self._signal(new_state["customer_id"], order_id, order, reason, event.occurred_at))
        orders[order_id] = order
        if len(orders) > cfg.max_orders:
            del orders[min(orders, key=lambda key: orders[key]["first_seen"])]
        return new_state, signals

    @staticmethod
    def _take_eta(order: dict[str, Any], eta: dt.datetime | None, at: str) -> None:
        # The newest carrier estimate (by event time) wins, whatever the arrival order.
        if eta is not None and (order["eta_at"] is None or at >= order["eta_at"]):
            order["eta"], order["eta_at"] = iso(eta), at

    def _eta_slips(self, order: dict[str, Any]) -> bool:
        if order["eta"] is None:
            return False
        return from_iso(order["eta"]) > from_iso(order["delivery_by"]) + self.config.eta_margin

    def _forget_stale(self, orders: dict[str, Any], now: dt.datetime) -> None:
        """Drop (in place, on a fresh copy) orders nobody closed, long past their promise."""
        cutoff = iso(now - self.config.forget_after)
        for order_id in [k for k, o in orders.items() if (o["delivery_by"] or o["first_seen"]) <= cutoff]:
            del orders[order_id]

    @staticmethod
    def _ship_due(order: dict[str, Any]) -> str | None:
        """The not-shipped deadline (stored ISO) of an order still able to fire it, else None."""
        if order["fired"] or not order["placed"]:
            return None
        shipped = order["shipped_at"]
        if shipped is not None and shipped < order["due_at"]:
            return None
        return order["due_at"]

    def _earliest_due(self, orders: dict[str, Any]) -> str | None:
        earliest = None
        for order in orders.values():
            due = self._ship_due(order)
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        return earliest

    def on_tick(self, state: dict[str, Any], now: dt.datetime) -> tuple[dict[str, Any], list[Signal]]:
        """Emit ``not_shipped`` for every order whose ship-by deadline plus grace is past."""
        deadline = self.next_deadline(state)
        if deadline is None or deadline > now:
            return state, []
        cutoff = iso(now - self.config.grace)
        orders = dict(state["orders"])
        signals: list[Signal] = []
        for order_id, order in state["orders"].items():
            due = self._ship_due(order)
            if due is not None and due <= cutoff:
                order = orders[order_id] = {**order, "fired": True}
                shipped = from_iso(order["shipped_at"]) if order["shipped_at"] else now
                signals.append(self._signal(state["customer_id"], order_id, order, "not_shipped", now, shipped))
        return {**state, "orders": orders}, signals

    def next_deadline(self, state: dict[str, Any]) -> dt.datetime | None:
        """Earliest not-shipped deadline plus grace over the open orders."""
        orders = state["orders"]
        earliest = self._earliest_due(orders) if orders else None
        return None if earliest is None else from_iso(earliest) + self.config.grace

    def _signal(
        self, customer_id: str, order_id: str, order: dict[str, Any], reason: str,
        detected_at: dt.datetime, shipped: dt.datetime | None = None,
    ) -> Signal:
        if reason == "not_shipped":
            slip = hours(shipped - from_iso(order["ship_by"]))
        elif order["eta"] is not None:
            slip = hours(from_iso(order["eta"]) - from_iso(order["delivery_by"]))
        else:
            slip = None
        attributes = {
            "order_id": order_id, "amount": order["amount"], "currency": order["currency"],
            "items": order["items"], "promised_ship_by": order["ship_by"],
            "promised_delivery_by": order["delivery_by"], "estimated_delivery_at": order["eta"],
            "carrier": order["carrier"], "shipped_at": order["shipped_at"], "slip_hours": slip,
            "reason": reason,
        }
        if reason == "exception":
            attributes["exception_code"] = order["exception"]
        return Signal(
            kind="shipping_delay",
            customer_id=customer_id,
            episode_key=f"shipping_delay:{customer_id}:{order_id}",
            detected_at=detected_at,
            reason=reason,
            attributes=attributes,
        )
