"""Live mode: a backfill ending at ``now``, then wall-clock events; the demo makes every detector fire."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from simulator.live import LiveFeed
from signals.customer_fold import replay
from signals.events import parse_event
from signals.signal import SIGNAL_KINDS

NOW = dt.datetime(2026, 11, 22, 15, 17, 23, tzinfo=dt.timezone.utc)  # deliberately not midnight


def _demo(seconds: int = 120, **kwargs) -> tuple[list[dict], list[dict]]:
    feed = LiveFeed(clock=lambda: pytest.fail("the generator must not read the clock"), **kwargs)
    backfill = feed.next_batch(NOW)
    live: list[dict] = []
    for second in range(1, seconds + 1):
        live += feed.next_batch(NOW + dt.timedelta(seconds=second))
    return backfill, live


@pytest.fixture(scope="module")
def demo():
    return _demo()


def test_backfill_is_history_and_live_is_wall_clock(demo):
    backfill, live = demo
    back_times = [parse_event(e).occurred_at for e in backfill]
    assert max(back_times) < NOW
    assert min(back_times) >= NOW - dt.timedelta(days=40)
    usage_days = {e["properties"]["day"] for e in backfill if e["type"] == "product.usage"}
    assert len(usage_days) >= 39  # one bucket per simulated day, none shared
    live_times = [parse_event(e).occurred_at for e in live]
    assert live_times and min(live_times) >= NOW and max(live_times) <= NOW + dt.timedelta(seconds=120)
    first_seen = {}
    for e in live:  # default live noise re-sends some events but delivers none late
        first_seen.setdefault(e["event_id"], parse_event(e).occurred_at)
    assert list(first_seen.values()) == sorted(first_seen.values())


def test_live_batches_only_cover_the_elapsed_interval():
    feed = LiveFeed(population_size=60, seed=3)
    feed.next_batch(NOW)
    later = NOW + dt.timedelta(seconds=30)
    batch = feed.next_batch(later)
    assert all(NOW <= parse_event(e).occurred_at < later for e in batch)
    assert feed.next_batch(later) == []  # nothing new without time passing


def test_same_seed_same_demo():
    assert _demo(20, population_size=80, seed=5) == _demo(20, population_size=80, seed=5)


def test_every_detector_fires_in_a_two_minute_demo(demo):
    backfill, live = demo
    signals = list(replay(parse_event(e) for e in backfill + live))
    kinds = Counter(s.kind for s in signals)
    assert set(kinds) == set(SIGNAL_KINDS)
    # The usage drop comes from the recent past: collapsed usage within the last week.
    recent = [s for s in signals if s.kind == "usage_drop" and s.detected_at >= NOW - dt.timedelta(days=7)]
    assert recent
    # In the live part itself, a checkout goes idle and a parcel runs into trouble.
    live_kinds = {s.kind for s in signals if s.detected_at >= NOW}
    assert {"checkout_idle", "shipping_delay"} <= live_kinds


async def test_events_paces_with_the_injected_sleep_and_clock():
    clock = [NOW]

    async def fake_sleep(seconds: float) -> None:
        clock[0] += dt.timedelta(seconds=seconds)

    feed = LiveFeed(population_size=40, seed=1, backfill_days=10, clock=lambda: clock[0])
    seen = []
    async for event in feed.events(tick_seconds=5.0, sleep=fake_sleep):
        seen.append(parse_event(event).occurred_at)
        if seen[-1] >= NOW + dt.timedelta(seconds=30):
            break
    assert seen[0] < NOW <= seen[-1]


def test_messages_feed_back_into_the_population():
    feed = LiveFeed(population_size=30, seed=2, backfill_days=5)
    with pytest.raises(RuntimeError):
        feed.deliver_message("cus_000001", NOW, "checkout_idle")
    feed.next_batch(NOW)
    sim = feed.simulator
    customer = next(life.customer for life in sim.lives if life.customer.persuadable and life.active_at(NOW.timestamp()))
    before = feed.simulator.true_churn_probability(customer.customer_id, NOW, 30)
    reaction = feed.deliver_message(customer.customer_id, NOW, "checkout_idle")
    after = feed.simulator.true_churn_probability(customer.customer_id, NOW, 30)
    assert reaction.value in {"ignored", "purchased", "replied_stop", "unsubscribed", "complained"}
    assert (after < before) is (reaction.value in {"ignored", "purchased"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"speedup": 0}, "speedup"), ({"backfill_days": -1}, "backfill_days")],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LiveFeed(**kwargs)
