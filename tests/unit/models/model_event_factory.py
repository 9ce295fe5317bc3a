"""Small, seeded, hand-made event histories for the model tests (no simulator needed)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

from signals.events import parse_event

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
_ids = itertools.count()


def event(customer_id: str, type_: str, at: dt.datetime, **properties: Any) -> Any:
    """One validated event with a fresh id."""
    return parse_event({"event_id": f"e{next(_ids)}", "customer_id": customer_id, "type": type_,
                        "occurred_at": at.isoformat(), "properties": properties})


def order(customer_id: str, at: dt.datetime, order_id: str, amount: float = 50.0, due_days: float = 3.0) -> Any:
    """An ``order.placed`` promising delivery ``due_days`` later."""
    return event(customer_id, "order.placed", at, order_id=order_id, amount=amount,
                 promised_ship_by=(at + dt.timedelta(days=1)).isoformat(),
                 promised_delivery_by=(at + dt.timedelta(days=due_days)).isoformat())


def customer_history(customer_id: str, rng: random.Random, days: int, churn_day: int | None) -> list[Any]:
    """A plausible mixed history; activity stops (and the plan is cancelled) at ``churn_day``."""
    plan = rng.choice(["basic", "plus", "pro"])
    out = [event(customer_id, "customer.profile", START, plan=plan, signed_up_at=(START - dt.timedelta(days=rng.randint(0, 400))).isoformat())]
    out.append(event(customer_id, "subscription.changed", START + dt.timedelta(hours=1), subscription_id=f"s-{customer_id}",
                     plan=plan, monthly_amount=rng.choice([10.0, 20.0, 40.0])))
    active_until = churn_day if churn_day is not None else days
    for day in range(active_until):
        at = START + dt.timedelta(days=day, hours=rng.uniform(1, 22))
        if rng.random() < 0.6:
            out.append(event(customer_id, "product.usage", at, sessions=rng.randint(0, 5)))
        if rng.random() < 0.08:
            oid = f"o-{customer_id}-{day}"
            out.append(order(customer_id, at, oid, amount=rng.uniform(5, 200), due_days=rng.uniform(1, 4)))
            if rng.random() < 0.9:
                out.append(event(customer_id, "order.delivered", at + dt.timedelta(days=rng.uniform(1, 6)), order_id=oid))
            else:
                out.append(event(customer_id, "order.cancelled", at + dt.timedelta(hours=2), order_id=oid))
        if rng.random() < 0.05:
            cid = f"c-{customer_id}-{day}"
            out.append(event(customer_id, "checkout.started", at, checkout_id=cid, cart_value=30.0))
            kind = "checkout.abandoned" if rng.random() < 0.4 else "checkout.completed"
            out.append(event(customer_id, kind, at + dt.timedelta(minutes=20), checkout_id=cid))
        if rng.random() < 0.02:
            mid = f"m-{customer_id}-{day}"
            out.append(event(customer_id, "message.sent", at, message_id=mid, rule_id="r1", channel="email"))
            out.append(event(customer_id, "message.response", at + dt.timedelta(hours=1), message_id=mid,
                             response=rng.choice(["opened", "clicked", "opted_out"])))
    if churn_day is not None:
        out.append(event(customer_id, "subscription.cancelled", START + dt.timedelta(days=churn_day, hours=3),
                         subscription_id=f"s-{customer_id}"))
    return out


def population(customers: int, days: int, seed: int = 0) -> list[Any]:
    """Events of ``customers`` customers over ``days`` days, in time order; about a third churn."""
    rng = random.Random(seed)
    events: list[Any] = []
    for i in range(customers):
        churn_day = rng.randint(5, days + 30) if rng.random() < 0.5 else None
        events.extend(customer_history(f"cus{i}", rng, days, churn_day if churn_day and churn_day < days else None))
    return sorted(events, key=lambda e: e.occurred_at)


def shop_population(customers: int, days: int, seed: int = 0) -> list[Any]:
    """An orders-only shop: orders and checkouts, no profile plans, no subscriptions, no usage."""
    rng = random.Random(seed)
    events: list[Any] = []
    for i in range(customers):
        customer_id = f"shop{i}"
        rate = rng.uniform(0.02, 0.25)  # orders per day
        stop = rng.randint(10, days + 60)  # the day this customer stops buying
        for day in range(min(stop, days)):
            at = START + dt.timedelta(days=day, hours=rng.uniform(1, 22))
            if rng.random() < rate:
                oid = f"o-{customer_id}-{day}"
                events.append(order(customer_id, at, oid, amount=rng.uniform(5, 120), due_days=rng.uniform(1, 4)))
                events.append(event(customer_id, "order.delivered", at + dt.timedelta(days=rng.uniform(1, 6)), order_id=oid))
            if rng.random() < rate / 2:
                cid = f"k-{customer_id}-{day}"
                events.append(event(customer_id, "checkout.started", at, checkout_id=cid, cart_value=40.0))
                events.append(event(customer_id, "checkout.abandoned", at + dt.timedelta(minutes=40), checkout_id=cid))
    return sorted(events, key=lambda e: e.occurred_at)
