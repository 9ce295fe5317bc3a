"""The core features: the hand-written part of every feature spec (``core: true``).

Orders, fulfilment against promises, usage level and trend, checkouts, plan and outreach history:
logic (open orders, promised dates, idle checkouts) that the declared metrics of
``signals.features.spec`` cannot express. ``signals.features.compiler`` puts it in front of the
declared metrics; the same code runs online (a Faust table holds the state) and offline::

    initial_state() -> dict                 plain JSON-able data, fits in a Faust table
    on_event(state, event) -> dict          pure; returns a new state, never mutates its input
    fold_in_place(state, event) -> None     on_event without the copy, for a caller that owns state
    vector(state, now) -> list[float]       feature values in FEATURE_NAMES order, as of ``now``

Times are kept as epoch seconds (floats) so the state survives JSON round trips unchanged and
``vector`` needs no date parsing. The state is bounded: daily usage buckets for the last
``USAGE_DAYS`` days (kept oldest first), the last ``RECENT_LIMIT`` order times and at most
``OPEN_LIMIT`` open orders and checkouts. Unknown values are ``nan`` (LightGBM treats them as
missing).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from signals.fold_domain import add_count, amount

DAY = 86400.0
USAGE_DAYS = 35  # 7 recent days + a 28-day baseline
RECENT_LIMIT = 50  # order / message / bad-experience times kept for windowed counts
HALF_LIFE_DAYS = 14.0  # recent pain fades: a bad experience counts half after two weeks
IDLE_CHECKOUT_SECONDS = 3600.0  # a checkout open this long without an outcome counts as abandoned
OPEN_LIMIT = 20  # open orders / checkouts kept (oldest dropped first)
PLAN_CODES = 1024  # plan names hash into this many categorical codes

NAN = float("nan")

FEATURE_NAMES: tuple[str, ...] = (
    # lifetime: days since sign-up (else first event), days since any event
    "tenure_days",
    "days_since_last_event",
    # orders: recency, frequency, monetary value; gap_ratio = days since last order / usual interval
    "orders_total",
    "orders_30d",
    "orders_90d",
    "monetary_total",
    "avg_order_value",
    "days_since_last_order",
    "mean_order_interval_days",
    "order_gap_ratio",
    # fulfilment: lateness against the promised delivery, open orders past their promises, shipping
    # issues (shipped late, ETA slipped past the promise, carrier exception) in 30 days and decayed
    "orders_cancelled",
    "deliveries_total",
    "late_delivery_rate",
    "avg_delivery_delay_days",
    "max_delivery_delay_days",
    "overdue_open_orders",
    "shipment_exceptions",
    "late_shipments_pending",
    "shipping_issues_30d",
    "shipping_issue_score",
    # usage: last 7 days against the customer's own weekly baseline over the 28 days before
    "usage_sessions_7d",
    "usage_weekly_baseline",
    "usage_trend",
    "usage_active_days_28d",
    "days_since_last_usage",
    # checkouts: abandons (explicit, or open past IDLE_CHECKOUT_SECONDS) in 30 days and decayed
    "checkouts_started",
    "checkouts_abandoned",
    "checkout_abandon_rate",
    "days_since_last_abandon",
    "abandons_30d",
    "abandon_score",
    # subscription: plan (categorical), price, changes, downgrades, cancelled
    "plan_code",
    "monthly_amount",
    "plan_changes",
    "plan_downgrades",
    "subscription_cancelled",
    # outreach history: messages sent and how the customer responded
    "messages_sent_total",
    "messages_sent_30d",
    "days_since_last_message",
    "message_positive_responses",
    "message_opted_out",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("plan_code",)

_POSITIVE_RESPONSES = {"opened", "clicked", "replied", "converted"}


def initial_state() -> dict[str, Any]:
    """An empty customer: JSON-able, every container empty."""
    return {
        "first_seen": None,
        "signed_up": None,
        "last_event": None,
        "order_times": [],
        "orders_total": 0,
        "monetary_total": 0.0,
        "orders_cancelled": 0,
        "open_orders": {},
        "deliveries": 0,
        "late_deliveries": 0,
        "delay_days_total": 0.0,
        "delay_days_max": 0.0,
        "shipment_exceptions": 0,
        "issue_times": [],
        "abandon_times": [],
        "usage_days": {},
        "usage_days_sorted": True,  # usage_days keys in day order (states from before may not be)
        "last_usage": None,
        "checkouts": {},
        "checkouts_started": 0,
        "checkouts_abandoned": 0,
        "last_abandon": None,
        "plan": None,
        "monthly_amount": None,
        "plan_changes": 0,
        "plan_downgrades": 0,
        "cancelled": False,
        "message_times": [],
        "messages_sent": 0,
        "last_message": None,
        "positive_responses": 0,
        "opted_out": False,
    }


def _copy(state: dict[str, Any], mutated: str | None = None) -> dict[str, Any]:
    # Copy-on-write: lists are only ever replaced, and of the dicts only the one this event's
    # handler mutates is copied (copying every container on every event was the hot spot).
    s = dict(state)
    if mutated is not None:
        s[mutated] = dict(s[mutated])
    return s


_MUTATED = {"order.placed": "open_orders", "order.shipped": "open_orders", "order.delivered": "open_orders",
            "order.cancelled": "open_orders", "product.usage": "usage_days", "checkout.started": "checkouts",
            "checkout.completed": "checkouts", "checkout.abandoned": "checkouts"}


def _ts(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


def _bounded(items: dict[str, Any], key: str, value: Any) -> None:
    items[key] = value
    while len(items) > OPEN_LIMIT:
        items.pop(next(iter(items)))  # dicts keep insertion order: drop the oldest


def _on_order(s: dict[str, Any], kind: str, p: Any, t: float) -> None:
    if kind == "order.placed":
        s["orders_total"] += 1
        s["monetary_total"] = amount(s["monetary_total"] + amount(p.amount))
        s["order_times"] = (s["order_times"] + [t])[-RECENT_LIMIT:]
        order = {"due": _ts(p.promised_delivery_by), "ship_by": _ts(p.promised_ship_by), "shipped": False}
        _bounded(s["open_orders"], p.order_id, order)
    elif kind == "order.shipped":
        order = s["open_orders"].get(p.order_id)
        if order is not None and not order["shipped"]:
            s["open_orders"][p.order_id] = {**order, "shipped": True}
            if order["ship_by"] is not None and t > order["ship_by"]:
                _issue(s, t)
    elif kind == "order.delivered":
        order = s["open_orders"].pop(p.order_id, None)
        if order is not None and order["due"] is not None:
            delay = max(0.0, (t - order["due"]) / DAY)
            s["deliveries"] += 1
            s["late_deliveries"] += int(delay > 0)
            s["delay_days_total"] += delay
            s["delay_days_max"] = max(s["delay_days_max"], delay)
    elif kind == "order.cancelled":
        s["orders_cancelled"] += 1
        s["open_orders"].pop(p.order_id, None)
    elif kind == "shipment.updated":
        # A later ETA is not a new promise: lateness is measured against the original due date,
        # but the customer feels the slip (or the exception) when it is announced.
        order = s["open_orders"].get(p.order_id)
        slipped = (order is not None and order["due"] is not None and p.estimated_delivery_at is not None
                   and p.estimated_delivery_at.timestamp() > order["due"])
        if p.status == "exception":
            s["shipment_exceptions"] += 1
        if p.status == "exception" or slipped:
            _issue(s, t)


def _issue(s: dict[str, Any], t: float) -> None:
    s["issue_times"] = (s["issue_times"] + [t])[-RECENT_LIMIT:]


def _on_usage(s: dict[str, Any], p: Any, t: float) -> None:
    day = (p.day.toordinal() - 719163) if p.day is not None else int(t // DAY)  # 719163 = 1970-01-01
    days = s["usage_days"]
    key = str(day)
    sessions = add_count(0, p.sessions)  # saturated: a sum must stay a JSON number and a float
    if key in days:  # a known day: the newest day is unchanged and older days are already pruned
        days[key] = add_count(days[key], sessions)
    else:
        if not s.get("usage_days_sorted"):  # a state from before the days were kept in order
            _sort_days(days)
            s["usage_days_sorted"] = True
        # Only days within USAGE_DAYS of the newest are kept, oldest first, so the newest is the
        # last key and pruning drops keys from the front: no pass over every key per new day.
        newest = int(next(reversed(days))) if days else day
        if day >= newest:
            days[key] = sessions
            cutoff = day - USAGE_DAYS
            oldest = next(iter(days))
            while int(oldest) <= cutoff:
                del days[oldest]
                oldest = next(iter(days))
        elif day > newest - USAGE_DAYS:  # a late day still inside the window
            days[key] = sessions
            _sort_days(days)
    if p.sessions > 0:
        s["last_usage"] = max(s["last_usage"] or t, t)


def _sort_days(days: dict[str, int]) -> None:
    """Put the usage day keys (whole days since the epoch, as text) in day order, in place."""
    ordered = sorted(days.items(), key=lambda item: int(item[0]))
    days.clear()
    days.update(ordered)


def _on_checkout(s: dict[str, Any], kind: str, p: Any, t: float) -> None:
    if kind == "checkout.started":
        s["checkouts_started"] += 1
        _bounded(s["checkouts"], p.checkout_id, t)
    elif kind == "checkout.completed":
        s["checkouts"].pop(p.checkout_id, None)
    elif kind == "checkout.abandoned":
        s["checkouts"].pop(p.checkout_id, None)
        s["checkouts_abandoned"] += 1
        s["last_abandon"] = t
        s["abandon_times"] = (s["abandon_times"] + [t])[-RECENT_LIMIT:]


def _on_subscription(s: dict[str, Any], kind: str, p: Any) -> None:
    if kind == "subscription.cancelled":
        s["cancelled"] = True
        return
    if s["plan"] is not None and p.plan != s["plan"]:
        s["plan_changes"] += 1
    old, new = s["monthly_amount"], p.monthly_amount
    if old is not None and new is not None and new < old:
        s["plan_downgrades"] += 1
    s["plan"] = p.plan
    s["cancelled"] = False  # a change after a cancellation is a reactivation
    if new is not None:
        s["monthly_amount"] = amount(new)


def on_event(state: dict[str, Any], event: Any) -> dict[str, Any]:
    """Fold one ``signals.events`` event into a copy of ``state`` and return the copy."""
    s = _copy(state, _MUTATED.get(event.type))
    fold_in_place(s, event)
    return s


def fold_in_place(s: dict[str, Any], event: Any) -> None:
    """Fold one event into ``s`` itself: the same result as ``on_event``, without its copy.

    Only for a caller that owns ``s`` and the containers its handlers mutate (``_MUTATED``):
    ``on_event``'s copy, or a state that started as ``initial_state()`` and was only ever folded
    this way (an offline replay's own table). A state anyone else holds (a Faust table value)
    goes through ``on_event``.
    """
    kind, p = event.type, event.properties
    t = event.occurred_at.timestamp()
    first, last = s["first_seen"], s["last_event"]
    if first is None or t < first:
        s["first_seen"] = t
    if last is None or t > last:
        s["last_event"] = t
    if kind == "product.usage":  # most events: first
        _on_usage(s, p, t)
    elif kind == "customer.profile":
        if p.signed_up_at is not None:
            s["signed_up"] = p.signed_up_at.timestamp()
        if p.plan is not None and s["plan"] is None:
            s["plan"] = p.plan
    elif kind.startswith("order.") or kind == "shipment.updated":
        _on_order(s, kind, p, t)
    elif kind.startswith("checkout."):
        _on_checkout(s, kind, p, t)
    elif kind.startswith("subscription."):
        _on_subscription(s, kind, p)
    elif kind == "message.sent":
        s["messages_sent"] += 1
        s["message_times"] = (s["message_times"] + [t])[-RECENT_LIMIT:]
        s["last_message"] = t
    elif kind == "message.response":
        if p.response in _POSITIVE_RESPONSES:
            s["positive_responses"] += 1
        elif p.response in ("opted_out", "complained"):
            s["opted_out"] = True


def plan_code(plan: str | None) -> float:
    """A stable categorical code for a plan name (the same in every process; nan when unknown)."""
    return float(zlib.crc32(plan.encode()) % PLAN_CODES) if plan else NAN


def _days(now: float, then: float | None) -> float:
    return (now - then) / DAY if then is not None else NAN


def _recent(times: Any, t: float) -> tuple[float, float]:
    """(count within 30 days, exponentially decayed count) of past times as of ``t``."""
    count, score = 0, 0.0
    for when in times:
        age = (t - when) / DAY
        if 0 <= age:
            count += age < 30
            score += 0.5 ** (age / HALF_LIFE_DAYS)
    return float(count), score


def _usage(days: dict[str, int], t: float) -> tuple[float, float, float, float]:
    # A bucket is the day starting at int(key) * DAY; windows are measured back from ``t``.
    recent = baseline = active = 0
    for key, sessions in days.items():
        age = (t - int(key) * DAY) / DAY  # how long ago the bucket's day began
        if 0 <= age <= 7:
            recent += sessions
        elif 7 < age <= USAGE_DAYS:
            baseline += sessions
        if 0 <= age <= 28 and sessions > 0:
            active += 1
    weekly = baseline / 4.0
    trend = (recent + 1.0) / (weekly + 1.0)  # +1 keeps new or idle customers finite
    return float(recent), weekly, trend, float(active)


def vector(state: dict[str, Any], now: Any) -> list[float]:
    """Feature values as of ``now`` (an aware datetime), in ``FEATURE_NAMES`` order."""
    t = now.timestamp()
    s = state
    orders = s["order_times"]
    n = s["orders_total"]
    last_order = orders[-1] if orders else None
    interval = (orders[-1] - orders[0]) / DAY / (len(orders) - 1) if len(orders) > 1 else NAN
    since_order = _days(t, last_order)
    gap_ratio = since_order / interval if interval and not math.isnan(interval) else NAN
    overdue = sum(1 for o in s["open_orders"].values() if o["due"] is not None and o["due"] < t)
    recent, weekly, trend, active = _usage(s["usage_days"], t)
    started = s["checkouts_started"]
    pending = sum(1 for o in s["open_orders"].values() if not o["shipped"] and o["ship_by"] is not None and o["ship_by"] < t)
    issues_30d, issue_score = _recent(s["issue_times"], t)
    # Checkouts left open past the idle limit count as abandoned from the moment they started.
    idle = [at for at in s["checkouts"].values() if t - at > IDLE_CHECKOUT_SECONDS]
    abandons_30d, abandon_score = _recent(s["abandon_times"] + idle, t)
    start = s["signed_up"] if s["signed_up"] is not None else s["first_seen"]
    monthly = s["monthly_amount"]
    return [
        _days(t, start),
        _days(t, s["last_event"]),
        float(n),
        float(sum(1 for o in orders if t - o < 30 * DAY)),
        float(sum(1 for o in orders if t - o < 90 * DAY)),
        s["monetary_total"],
        s["monetary_total"] / n if n else NAN,
        since_order,
        interval,
        gap_ratio,
        float(s["orders_cancelled"]),
        float(s["deliveries"]),
        s["late_deliveries"] / s["deliveries"] if s["deliveries"] else NAN,
        s["delay_days_total"] / s["deliveries"] if s["deliveries"] else NAN,
        s["delay_days_max"],
        float(overdue),
        float(s["shipment_exceptions"]),
        float(pending),
        issues_30d,
        issue_score,
        recent,
        weekly,
        trend,
        active,
        _days(t, s["last_usage"]),
        float(started),
        float(s["checkouts_abandoned"]),
        s["checkouts_abandoned"] / started if started else NAN,
        _days(t, s["last_abandon"]),
        abandons_30d,
        abandon_score,
        plan_code(s["plan"]),
        float(monthly) if monthly is not None else NAN,
        float(s["plan_changes"]),
        float(s["plan_downgrades"]),
        float(s["cancelled"]),
        float(s["messages_sent"]),
        float(sum(1 for m in s["message_times"] if t - m < 30 * DAY)),
        _days(t, s["last_message"]),
        float(s["positive_responses"]),
        float(s["opted_out"]),
    ]
