"""The simulator: valid, ordered, deterministic events; noise on request; churn ends activity."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from pydantic import ValidationError

from simulator import ArrivalNoise, Simulator
from signals.events import EVENT_TYPES, parse_event

QUIET = ArrivalNoise(duplicate_share=0.0, late_share=0.0, malformed_share=0.0)


def _run(customers=150, days=45, seed=1, **kwargs):
    sim = Simulator(customers, days, seed, **kwargs)
    return sim, list(sim.run())


@pytest.fixture(scope="module")
def noisy():
    return _run(noise=ArrivalNoise(duplicate_share=0.01, late_share=0.02, malformed_share=0.0))


def test_every_event_validates_and_covers_the_behaviours(noisy):
    _, events = noisy
    types = Counter(parse_event(e).type for e in events)
    expected = set(EVENT_TYPES) - {"message.sent", "message.response"}  # outreach sends those
    # Plan changes are rare: allow them to be missing in a small run, nothing else.
    assert expected - set(types) <= {"subscription.changed"}
    assert types["product.usage"] > types["order.placed"] > 0


def test_same_seed_same_bytes_other_seed_differs():
    _, a = _run(40, 20, seed=5)
    _, b = _run(40, 20, seed=5)
    _, c = _run(40, 20, seed=6)
    assert json.dumps(a).encode() == json.dumps(b).encode()
    assert a != c


def test_without_noise_events_arrive_in_occurred_at_order_once_each():
    _, events = _run(noise=QUIET)
    times = [parse_event(e).occurred_at for e in events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in events}) == len(events)


def test_noise_adds_duplicates_and_slightly_late_arrivals(noisy):
    _, events = noisy
    ids = Counter(e["event_id"] for e in events)
    duplicates = [event_id for event_id, n in ids.items() if n > 1]
    assert 0 < len(duplicates) < 0.03 * len(ids)
    newest, late, worst = None, 0, dt.timedelta(0)
    for e in events:
        at = parse_event(e).occurred_at
        if newest is not None and at < newest:
            late += 1
            worst = max(worst, newest - at)
        newest = at if newest is None else max(newest, at)
    assert late > 0
    assert worst <= dt.timedelta(seconds=ArrivalNoise().max_late_seconds + 30)  # slightly late only


@pytest.mark.parametrize(("share", "expect_broken"), [(0.0, False), (0.01, True)])
def test_malformed_events_only_when_asked(share, expect_broken):
    sim, events = _run(60, 20, noise=ArrivalNoise(duplicate_share=0, late_share=0, malformed_share=share))
    broken = 0
    for e in events:
        try:
            parse_event(e)
        except ValidationError:
            broken += 1
    assert (broken > 0) is expect_broken
    assert broken == sim.malformed_count
    # The real history is intact: dropping the broken ones leaves every genuine event id once.
    assert len({e["event_id"] for e in events if "_bad_" not in e["event_id"]}) == len(events) - broken


def test_churned_customers_go_quiet_and_subscribers_cancel():
    sim, events = _run(400, 60, seed=2, noise=QUIET)
    by_customer: dict[str, list[dict]] = {}
    for e in events:
        by_customer.setdefault(e["customer_id"], []).append(e)
    churned = {life.customer.customer_id: life for life in sim.lives if life.churned_at is not None}
    assert len(churned) > 5
    for customer_id, life in churned.items():
        mine = by_customer.get(customer_id, [])
        after = [e for e in mine if parse_event(e).occurred_at.timestamp() > life.churned_at]
        # In-flight orders still ship; nothing new starts.
        assert not [e for e in after if e["type"] in ("product.usage", "checkout.started", "order.placed")]
        cancelled = [e for e in mine if e["type"] == "subscription.cancelled"]
        assert len(cancelled) == (life.customer.plan != "free")  # contractual customers cancel once
    cancellers = {e["customer_id"] for e in events if e["type"] == "subscription.cancelled"}
    assert cancellers <= set(churned)


def test_labels_observe_live_customers_and_record_realised_churn():
    sim, _ = _run(300, 60, seed=4, noise=QUIET)
    labels = sim.labels()
    assert {row["observed_at"][:10] for row in labels} == {"2026-09-15", "2026-09-22", "2026-09-29"}
    for row in labels:
        life = sim.life(row["customer_id"])
        observed = dt.datetime.fromisoformat(row["observed_at"]).timestamp()
        assert life.churned_at is None or life.churned_at >= observed  # only customers alive then
        in_horizon = life.churned_at is not None and life.churned_at < observed + 30 * 86400
        assert row["churned"] is in_horizon
        assert 0.0 < row["true_probability"] < 1.0


def test_true_churn_probability_is_current_state_only():
    sim, _ = _run(20, 10, noise=QUIET)
    now = sim.start + dt.timedelta(days=10)
    customer_id = next(life.customer.customer_id for life in sim.lives if life.churned_at is None)
    p30 = sim.true_churn_probability(customer_id, now, 30)
    assert 0.0 < sim.true_churn_probability(customer_id, now, 7) < p30 < 1.0
    with pytest.raises(ValueError):
        sim.true_churn_probability(customer_id, sim.start, 30)  # the past lives in labels()


def test_start_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        Simulator(1, 1, start=dt.datetime(2026, 1, 1))
