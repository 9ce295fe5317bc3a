"""Hypothesis strategies for hostile but valid events: any aware datetime, any value the envelope accepts.

Every event these build passes ``signals.events.parse_event`` (the envelope is the only gate a
producer writing straight to Kafka goes through), so whatever they do to the fold is a bug of the
fold, not bad input.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from signals.events import MAX_INT64, parse_event

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.timezone.utc)

# The offsets at the ends of what ISO 8601 allows: year 1 at +14:00 is before 0001-01-01 UTC.
OFFSETS = st.sampled_from([
    dt.timezone.utc, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-14)),
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
])
ANY_TIME = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                        timezones=OFFSETS)
EDGE_TIME = st.sampled_from([
    dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc),  # the reported one
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=-14))),
    dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14))),
    dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc),
])
# Mostly near one moment (so detectors interact), sometimes anywhere, sometimes at the very edges.
NEAR_TIME = st.integers(min_value=-60 * 86400, max_value=60 * 86400).map(lambda s: T0 + dt.timedelta(seconds=s))
TIME = st.one_of(NEAR_TIME, NEAR_TIME, ANY_TIME, EDGE_TIME)
ANY_DATE = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))

# The envelope refuses non-finite numbers and counts past 64 bits (standard JSON, ingest's limits).
MONEY = st.one_of(st.floats(min_value=0, allow_nan=False, allow_infinity=False), st.sampled_from([0.0, 1.7976931348623157e308]))
COUNT = st.one_of(st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=MAX_INT64 - 1))
ID = st.sampled_from(["a", "b", "x" * 64])
TEXT_NUMBER = st.sampled_from(["ups", "", "7", "-5", "1e400", "-1e400", "inf", "nan", "1" * 400])
ZONE = st.sampled_from([None, "UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"])


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else value


@st.composite
def properties(draw: Any, type_: str) -> dict[str, Any]:
    """Valid properties of one event type, drawn from the hostile ranges above."""
    if type_ == "order.placed":
        props = {"order_id": draw(ID), "amount": draw(MONEY), "items": draw(COUNT.map(lambda n: n + 1)),
                 "promised_ship_by": draw(TIME), "promised_delivery_by": draw(TIME)}
    elif type_ in ("order.shipped", "shipment.updated"):
        props = {"order_id": draw(ID), "estimated_delivery_at": draw(st.none() | TIME)}
        if type_ == "order.shipped":  # free text a declared sum may read: numbers float() takes badly
            props["carrier"] = draw(st.none() | TEXT_NUMBER)
        if type_ == "shipment.updated":
            props["status"] = draw(st.sampled_from(["in_transit", "exception", "eta_changed"]))
    elif type_ in ("order.delivered", "order.cancelled"):
        props = {"order_id": draw(ID)}
    elif type_ == "product.usage":
        props = {"sessions": draw(COUNT), "day": draw(st.none() | ANY_DATE),
                 "feature_counts": draw(st.dictionaries(ID, COUNT, max_size=2))}
    elif type_.startswith("checkout."):
        props = {"checkout_id": draw(ID)}
        if type_ == "checkout.started":
            props.update(cart_value=draw(MONEY), items=draw(COUNT))
    elif type_ == "customer.profile":
        props = {"time_zone": draw(ZONE), "signed_up_at": draw(st.none() | TIME), "plan": draw(st.none() | ID)}
    elif type_ == "subscription.changed":
        props = {"subscription_id": draw(ID), "plan": draw(ID), "monthly_amount": draw(st.none() | MONEY)}
    elif type_ == "message.sent":
        props = {"message_id": draw(ID), "rule_id": "r", "channel": "email"}
    else:  # message.response
        props = {"message_id": draw(ID), "response": draw(st.sampled_from(["clicked", "opted_out"]))}
    return {k: _iso(v) for k, v in props.items() if v is not None}


EVENT_TYPES = ["order.placed", "order.shipped", "shipment.updated", "order.delivered", "order.cancelled",
               "product.usage", "checkout.started", "checkout.activity", "checkout.completed",
               "checkout.abandoned", "customer.profile", "subscription.changed", "message.sent", "message.response"]


@st.composite
def events(draw: Any, customer: str = "c1") -> Any:
    """One parsed event of any type, for ``customer``."""
    type_ = draw(st.sampled_from(EVENT_TYPES))
    return parse_event({
        "event_id": draw(st.sampled_from(["e1", "e2"]) | st.uuids().map(str)),  # some repeat: dedup too
        "customer_id": customer, "type": type_, "occurred_at": _iso(draw(TIME)),
        "properties": draw(properties(type_)),
    })


class Tick:
    """A step of a script: ``on_tick(state, now)``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __repr__(self) -> str:
        return f"Tick({self.now.isoformat()})"


SCRIPTS = st.lists(st.one_of(events(), events(), TIME.map(Tick)), min_size=1, max_size=12)
