"""What one simulated customer does: usage, checkouts, orders and their fulfilment, plan changes.

Functions here draw from the customer's own ``random.Random`` and hand events to ``life.emit``
with their event time (epoch seconds); they never read a clock. Bad experiences are handed to
``life.experience`` at the moment the customer would notice them, so the hazard reacts then.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Callable

from simulator.hazard import HazardState
from simulator.population import PLANS, Customer, utc_offset_hours

DAY = 86400.0
_UTC = dt.timezone.utc
_CARRIERS = ("UPS", "FedEx", "USPS", "DHL", "PostNL", "Royal Mail")
_EXCEPTIONS = ("weather_delay", "address_issue", "damaged", "held_at_customs", "missed_connection")
_FEATURE_SHARES = (("reports", 0.4), ("search", 0.6), ("export", 0.1))
# Local hours at which people shop or use the product, weighted towards evenings.
_ACTIVE_HOURS = tuple(range(7, 24))
_HOUR_WEIGHTS = (1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 6, 6, 5, 4, 2)


def iso(ts: float) -> str:
    """Epoch seconds -> ISO 8601 in UTC with milliseconds."""
    return dt.datetime.fromtimestamp(ts, _UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Timing:
    """How long fulfilment takes: a simulated day lasts ``fulfilment_day_seconds`` of event time.

    Batch runs use real days; the live demo compresses fulfilment so promises expire within minutes.
    """

    fulfilment_day_seconds: float = DAY


@dataclass
class CustomerLife:
    """The evolving state of one customer during a simulation."""

    customer: Customer
    emit: Callable[["CustomerLife", float, str, dict], None]
    hazard: HazardState = field(default_factory=HazardState)
    churned_at: float | None = None
    usage_multiplier: float = 1.0
    decline_floor: float | None = None  # set while usage is collapsing towards this level
    pending_experiences: list[tuple[float, str]] = field(default_factory=list)
    event_count: int = 0
    order_count: int = 0
    checkout_count: int = 0
    messages: int = 0
    bad_experiences: int = 0  # applied to the hazard so far

    def active_at(self, ts: float) -> bool:
        """Whether the customer has not churned by ``ts``."""
        return self.churned_at is None or ts < self.churned_at

    def experience(self, ts: float, kind: str) -> None:
        """Remember a bad experience; the engine applies it to the hazard when its day comes."""
        self.pending_experiences.append((ts, kind))


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def local_time_in_day(rng: random.Random, customer: Customer, day_start: float) -> float:
    """A waking-hours moment of the customer's local day, as epoch seconds inside the UTC day."""
    hour = rng.choices(_ACTIVE_HOURS, weights=_HOUR_WEIGHTS)[0] + rng.random()
    return day_start + ((hour - customer.utc_offset_hours) % 24) * 3600


def day_facts(day_start: float) -> tuple[int, float]:
    """(UTC weekday, midday epoch seconds) of the simulated day starting at ``day_start``."""
    midday = day_start + DAY / 2
    return dt.datetime.fromtimestamp(midday, _UTC).weekday(), midday


def usage_day(life: CustomerLife, rng: random.Random, day_start: float, facts: tuple[int, float], *,
              emit: bool = True, counts_of: Callable[[int], dict] | None = None) -> None:
    """One daily ``product.usage`` aggregate: baseline x weekly rhythm x noise x decline.

    The aggregate covers the customer's LOCAL day around the window's midday and is sent in that
    local evening (20:00-22:30, before local midnight even across a DST change), labelled with the
    local date, so a detector judging local days after midnight already has it. Without ``emit``
    only the engagement level moves (a shop has no usage events); ``counts_of(sessions)`` gives
    the ``feature_counts`` (default: the default scenario's shares).
    """
    c = life.customer
    if life.decline_floor is not None:  # collapsing: halve the distance to the floor every day
        life.usage_multiplier = life.decline_floor + (life.usage_multiplier - life.decline_floor) * 0.45
    elif life.usage_multiplier < 1.0:  # recovering after a helpful nudge
        life.usage_multiplier = min(1.0, life.usage_multiplier + 0.25)
    life.hazard.decline = max(0.0, 1.0 - life.usage_multiplier)
    if not emit:
        return
    weekday, midday = facts
    offset = c.utc_offset_hours * 3600
    local_midnight = (midday + offset) // DAY * DAY  # of the local date at the window's midday, as local epoch
    at = round(local_midnight - offset + rng.uniform(20 * 3600, 22.5 * 3600), 3)
    if not life.active_at(at):
        return
    day = dt.datetime.fromtimestamp(local_midnight, _UTC).date().isoformat()
    weekend = weekday >= 5
    rhythm = (1.35 if weekend else 0.86) if c.weekend_lover else (0.55 if weekend else 1.18)
    sessions = poisson(rng, c.usage_baseline * rhythm * rng.lognormvariate(0.0, 0.2) * life.usage_multiplier)
    if sessions == 0:
        return
    if counts_of is not None:
        counts = counts_of(sessions)
    else:
        # Every session opens the dashboard; other features are used in a share of sessions.
        counts = {"dashboard": sessions}
        for name, share in _FEATURE_SHARES:
            used = round(sessions * share * rng.random() * 2)
            if used:
                counts[name] = used
    life.emit(life, at, "product.usage", {"sessions": sessions, "feature_counts": counts, "day": day})


def usage_session(life: CustomerLife, ts: float) -> None:
    """One live ``product.usage`` session (no ``day``: a single session)."""
    life.emit(life, round(ts, 3), "product.usage", {"sessions": 1})


def checkout(life: CustomerLife, rng: random.Random, ts: float, timing: Timing,
             completion: float | None = None, outcome: str | None = None, activities: int | None = None,
             max_gap: float = 80.0) -> None:
    """A checkout: started, a few activities, then completed (an order), abandoned, or left idle."""
    c = life.customer
    life.checkout_count += 1
    checkout_id = f"chk_{c.index}_{life.checkout_count}"
    items = 1 + poisson(rng, 0.8)
    cart = round(rng.lognormvariate(c.amount_mu, 0.5) * items ** 0.5, 2)
    t = round(ts, 3)
    life.emit(life, t, "checkout.started",
              {"checkout_id": checkout_id, "cart_value": cart, "currency": c.currency, "items": items})
    for _ in range(poisson(rng, 2.0) if activities is None else activities):
        t = round(t + min(max_gap, rng.expovariate(1 / 20) + 2), 3)
        life.emit(life, t, "checkout.activity",
                  {"checkout_id": checkout_id, "action": rng.choice(("add_item", "update_qty", "view_cart", "apply_coupon"))})
    if outcome is None:
        p_complete = (c.checkout_completion if completion is None else completion) * math.exp(-0.15 * life.hazard.badness())
        u = rng.random()
        outcome = "completed" if u < p_complete else ("abandoned" if u < p_complete + (1 - p_complete) * 0.4 else "idle")
    if outcome == "completed":
        t = round(t + rng.uniform(5, 60), 3)
        order_id = place_order(life, rng, t, timing, amount=cart, items=items)
        life.emit(life, t, "checkout.completed", {"checkout_id": checkout_id, "order_id": order_id})
        return
    life.experience(t + 1800, "abandoned")
    if outcome == "abandoned":  # the shop closes the cart explicitly some while later
        life.emit(life, round(t + rng.uniform(1800, 3600), 3), "checkout.abandoned", {"checkout_id": checkout_id})


def place_order(life: CustomerLife, rng: random.Random, ts: float, timing: Timing, *,
                amount: float | None = None, items: int = 1, fate: str | None = None,
                allow_cancel: bool = True) -> str:
    """An ``order.placed`` plus its whole fulfilment story; returns the order id."""
    c = life.customer
    unit = timing.fulfilment_day_seconds
    life.order_count += 1
    order_id = f"ord_{c.index}_{life.order_count}"
    amount = round(rng.lognormvariate(c.amount_mu, 0.5), 2) if amount is None else amount
    ship_by = round(ts + rng.choice((1, 2, 2, 3)) * unit, 3)
    deliver_by = round(ship_by + rng.uniform(2, 5) * unit, 3)
    life.emit(life, ts, "order.placed", {
        "order_id": order_id, "amount": amount, "currency": c.currency, "items": items,
        "promised_ship_by": iso(ship_by), "promised_delivery_by": iso(deliver_by)})
    if fate is None:
        u = rng.random()
        fate = ("cancelled" if u < 0.02 else "on_time" if u < 0.84 else "late_ship" if u < 0.91
                else "eta_slip" if u < 0.96 else "exception")
    if fate == "cancelled":
        life.emit(life, round(ts + rng.uniform(0.02, 0.5) * unit, 3), "order.cancelled",
                  {"order_id": order_id, "reason": "changed_mind"})
        return order_id
    carrier = rng.choice(_CARRIERS)
    tracking = f"TRK{c.index:06d}{life.order_count:04d}"
    if fate == "late_ship":
        life.experience(ship_by, "not_shipped")
        if allow_cancel and rng.random() < 0.12:  # some customers give up on a late order
            life.emit(life, round(ship_by + rng.uniform(0.2, 1.0) * unit, 3), "order.cancelled",
                      {"order_id": order_id, "reason": "not_shipped_in_time"})
            return order_id
        shipped = round(ship_by + rng.uniform(0.25, 3.0) * unit, 3)
    else:
        shipped = round(ts + rng.uniform(0.1, 0.9) * (ship_by - ts), 3)
    eta = round(max(shipped + 0.5 * unit, min(deliver_by, shipped + rng.uniform(1.5, 4.0) * unit)), 3)
    life.emit(life, shipped, "order.shipped", {
        "order_id": order_id, "carrier": carrier, "tracking_number": tracking, "estimated_delivery_at": iso(eta)})
    delivered = round(eta - rng.uniform(0, 0.3) * unit, 3)
    if fate in ("eta_slip", "exception"):
        noticed = round(shipped + rng.uniform(0.3, 0.9) * (eta - shipped), 3)
        eta = round(deliver_by + rng.uniform(1.0, 4.0) * unit, 3)
        update: dict[str, object] = {"order_id": order_id, "estimated_delivery_at": iso(eta)}
        if fate == "exception":
            update.update(status="exception", exception_code=rng.choice(_EXCEPTIONS),
                          description="Carrier reported a delivery exception")
        else:
            update.update(status="eta_changed")
        life.emit(life, noticed, "shipment.updated", update)
        life.experience(noticed, fate)
        delivered = round(eta - rng.uniform(0, 0.2) * unit, 3)
    elif rng.random() < 0.3:
        life.emit(life, round((shipped + delivered) / 2, 3), "shipment.updated",
                  {"order_id": order_id, "status": "in_transit", "estimated_delivery_at": iso(eta)})
    if rng.random() < 0.5:
        life.emit(life, round(delivered - rng.uniform(0.05, 0.2) * unit, 3), "shipment.updated",
                  {"order_id": order_id, "status": "out_for_delivery"})
    life.emit(life, delivered, "order.delivered", {"order_id": order_id})
    return order_id


def plan_change(life: CustomerLife, rng: random.Random, ts: float) -> None:
    """Occasional upgrades, and downgrades that grow likelier with bad experiences."""
    c = life.customer
    badness = life.hazard.badness()
    u = rng.random()
    new_plan = None
    if c.plan == "free" and u < 0.0008:
        new_plan = "basic"
    elif c.plan == "basic" and u < 0.0012:
        new_plan = "pro"
    elif c.plan == "pro" and u < 0.0008 * (1 + 2 * badness):
        new_plan = "basic"
    if new_plan is None:
        return
    previous, c.plan = c.plan, new_plan
    if c.subscription_id is None:
        c.subscription_id = f"sub_{c.index:06d}"
    life.emit(life, round(ts, 3), "subscription.changed", {
        "subscription_id": c.subscription_id, "plan": new_plan, "previous_plan": previous,
        "monthly_amount": PLANS[new_plan]})


def profile_update(life: CustomerLife, rng: random.Random, ts: float, zones: tuple[str, ...]) -> None:
    """A rare profile change (consent flip or a move) sent as a full profile snapshot."""
    if rng.random() >= 0.003:
        return
    c = life.customer
    if rng.random() < 0.6:
        key = rng.choice(("email_marketing", "sms_marketing")) if c.phone else "email_marketing"
        c.consent[key] = not bool(c.consent.get(key))
    else:
        c.time_zone = rng.choice([z for z in zones if z != c.time_zone])
        c.utc_offset_hours = utc_offset_hours(c.time_zone, ts)
        c.moved = True
    life.emit(life, round(ts, 3), "customer.profile", c.profile_properties())


def cancel_subscription(life: CustomerLife, rng: random.Random, ts: float) -> None:
    """Contractual customers who churn cancel their subscription."""
    c = life.customer
    if c.subscription_id is None or c.plan == "free":
        return
    reason = rng.choice(("too_expensive", "not_using_it", "switched_provider", "bad_experience", None))
    props: dict[str, object] = {"subscription_id": c.subscription_id}
    if reason:
        props["reason"] = reason
    life.emit(life, round(ts, 3), "subscription.cancelled", props)
