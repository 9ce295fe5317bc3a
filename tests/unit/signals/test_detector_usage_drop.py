"""Usage drop: own-baseline comparison, guards, re-arming, absence, lateness, time zones and DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from detector_events import UTC, Tick, daily_usage, ev, run
from signals.detectors.usage_drop import UsageDropConfig, UsageDropDetector

DETECTOR = UsageDropDetector()  # 7 vs 28 days, drop 50 %, re-arm 80 %, min 1/day, 28 days history
JAN1 = dt.date(2026, 1, 1)
GRACE = dt.timedelta(minutes=5)
BERLIN = ZoneInfo("Europe/Berlin")


def midnight(day: dt.date, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


def daily_ticks(first: dt.date, last: dt.date) -> list[Tick]:
    """A tick just after each UTC midnight plus grace, like a live worker's timer."""
    return [Tick(midnight(first + dt.timedelta(days=n)) + GRACE) for n in range((last - first).days + 1)]


def keys(signals) -> list[str]:
    return [s.episode_key for s in signals]


# (usage per day from Jan 1, last tick day, expected episode days)
CASES = {
    # 2/day for 28 days then nothing: fires via ticks alone on the 4th silent day (6/7 <= 1.0)
    "stops entirely": ([2] * 28, dt.date(2026, 2, 10), ["2026-02-01"]),
    # half a session a day on average: under the minimum baseline, never fires
    "naturally quiet": ([1, 0] * 14, dt.date(2026, 3, 1), []),
    # exactly half of the baseline on the judged day fires (<=)
    "exactly half": ([4] * 28 + [2] * 7, dt.date(2026, 2, 5), ["2026-02-04"]),
    "just above half": ([4] * 28 + [2] * 6 + [3], dt.date(2026, 2, 5), []),
    # history guard: silent from Jan 21, but nothing can fire before 28 days of history (Jan 28)
    "history guard holds": ([5] * 20, dt.date(2026, 1, 28), []),
    "history guard met": ([5] * 20, dt.date(2026, 1, 29), ["2026-01-28"]),
    # one signal per episode while the drop lasts
    "stays low": ([4] * 28 + [0] * 40, dt.date(2026, 3, 15), ["2026-02-01"]),
    # recovery for two weeks re-arms; the next drop is a new episode with its own key
    "re-armed": ([4] * 28 + [0] * 7 + [4] * 14 + [0] * 7, dt.date(2026, 3, 1), ["2026-02-01", "2026-02-23"]),
}


@pytest.mark.parametrize("usage, last_tick, expected", CASES.values(), ids=CASES.keys())
def test_usage_drop_cases(usage, last_tick, expected):
    _, signals = run(DETECTOR, daily_usage(JAN1, usage) + daily_ticks(JAN1, last_tick))
    assert keys(signals) == [f"usage_drop:c1:{day}" for day in expected]


@pytest.mark.parametrize(
    "ticks",
    [
        daily_ticks(JAN1, dt.date(2026, 3, 1)),  # a live daily timer
        [Tick(midnight(dt.date(2026, 3, 1)) + GRACE)],  # one late tick judges every missed day in order
        [Tick(midnight(JAN1) + dt.timedelta(hours=h)) for h in range(0, 60 * 24, 7)],  # odd cadence
    ],
    ids=["daily", "once", "every 7 hours"],
)
def test_tick_cadence_does_not_change_episodes(ticks):
    usage = daily_usage(JAN1, [4] * 28 + [0] * 7 + [4] * 14 + [0] * 7)
    _, signals = run(DETECTOR, usage + ticks)
    assert keys(signals) == ["usage_drop:c1:2026-02-01", "usage_drop:c1:2026-02-23"]


def test_signal_attributes():
    _, [signal] = run(DETECTOR, daily_usage(JAN1, [4] * 28 + [2] * 7) + daily_ticks(JAN1, dt.date(2026, 2, 5)))
    assert signal.kind == "usage_drop"
    assert signal.detected_at == midnight(dt.date(2026, 2, 5)) + GRACE
    assert {k: signal.attributes[k] for k in ("day", "recent_avg", "baseline_avg", "drop_pct")} == {
        "day": "2026-02-04", "recent_avg": 2.0, "baseline_avg": 4.0, "drop_pct": 50.0,
    }


LATE = ev("product.usage", dt.datetime(2026, 2, 1, 23, 59, tzinfo=UTC), sessions=2)


@pytest.mark.parametrize(
    "steps, expected",
    [
        # the late usage of Feb 1 arrives within the grace: Feb 1 is judged with it, the drop is a day later
        ([Tick(midnight(dt.date(2026, 2, 2)) + dt.timedelta(minutes=4)), LATE], ["2026-02-02"]),
        # it arrives after Feb 1 was judged: the signal stands, the bucket only affects later days
        ([Tick(midnight(dt.date(2026, 2, 2)) + GRACE), LATE], ["2026-02-01"]),
    ],
    ids=["within grace", "after judgement"],
)
def test_late_usage(steps, expected):
    script = daily_usage(JAN1, [2] * 28) + daily_ticks(JAN1, dt.date(2026, 2, 1)) + steps
    script += daily_ticks(dt.date(2026, 2, 2), dt.date(2026, 2, 6))
    _, signals = run(DETECTOR, script)
    assert keys(signals) == [f"usage_drop:c1:{day}" for day in expected]


def profile(tz: str, when: dt.datetime):
    return ev("customer.profile", when, time_zone=tz)


@pytest.mark.parametrize(
    "tz, occurred, bucket",
    [
        ("Europe/Berlin", "2026-03-29T21:30:00+00:00", "2026-03-29"),  # 23:30 CEST on the 23 h day
        ("Europe/Berlin", "2026-03-29T22:30:00+00:00", "2026-03-30"),  # 00:30 CEST the next day
        ("Europe/Berlin", "2026-10-25T22:30:00+00:00", "2026-10-25"),  # 23:30 CET on the 25 h day
        ("Europe/Berlin", "2026-10-25T23:30:00+00:00", "2026-10-26"),
        (None, "2026-03-29T22:30:00+00:00", "2026-03-29"),  # no profile: UTC days
        ("America/Los_Angeles", "2026-03-30T05:00:00+00:00", "2026-03-29"),  # 22:00 PDT
    ],
)
def test_usage_is_bucketed_by_local_day(tz, occurred, bucket):
    steps = [] if tz is None else [profile(tz, dt.datetime(2026, 1, 1, tzinfo=UTC))]
    steps.append(ev("product.usage", dt.datetime.fromisoformat(occurred), sessions=3))
    state, _ = run(DETECTOR, steps)
    assert state["buckets"] == {bucket: 3}


def test_explicit_day_names_the_bucket():
    usage = ev("product.usage", dt.datetime(2026, 3, 2, 1, tzinfo=UTC), sessions=2, day="2026-03-01")
    state, _ = run(DETECTOR, [usage])
    assert state["buckets"] == {"2026-03-01": 2}


@pytest.mark.parametrize(
    "tz, first_day, judged_day_ends_at, hours_long",
    [
        ("Europe/Berlin", dt.date(2026, 3, 1), "2026-03-28T23:00:00+00:00", 24),
        ("Europe/Berlin", dt.date(2026, 3, 2), "2026-03-29T22:00:00+00:00", 23),  # spring forward
        ("Europe/Berlin", dt.date(2026, 9, 27), "2026-10-24T22:00:00+00:00", 24),
        ("Europe/Berlin", dt.date(2026, 9, 28), "2026-10-25T23:00:00+00:00", 25),  # fall back
        ("America/New_York", dt.date(2026, 2, 9), "2026-03-09T04:00:00+00:00", 23),  # spring forward
        ("America/New_York", dt.date(2026, 10, 5), "2026-11-02T05:00:00+00:00", 25),  # fall back
        ("UTC", dt.date(2026, 3, 2), "2026-03-30T00:00:00+00:00", 24),
    ],
)
def test_days_end_at_local_midnight_across_dst(tz, first_day, judged_day_ends_at, hours_long):
    zone = ZoneInfo(tz)
    steps = [profile(tz, midnight(first_day, zone) - dt.timedelta(days=1))]
    steps += daily_usage(first_day, [2], tz=zone)
    state, _ = run(DETECTOR, steps)
    # The first judgeable day is the 28th since the first usage; it is judged at its local end.
    day_end = dt.datetime.fromisoformat(judged_day_ends_at)
    assert DETECTOR.next_deadline(state) == day_end + GRACE
    judged_day = first_day + dt.timedelta(days=27)
    assert day_end - midnight(judged_day, zone).astimezone(UTC) == dt.timedelta(hours=hours_long)
    before, _ = run(DETECTOR, [Tick(day_end + GRACE - dt.timedelta(seconds=1))], state)
    assert before["judged"] == state["judged"]  # not over yet
    after, _ = run(DETECTOR, [Tick(day_end + GRACE)], state)
    assert after["judged"] == judged_day.isoformat()


def test_drop_on_a_23_hour_day_fires_at_local_midnight():
    steps = [profile("Europe/Berlin", dt.datetime(2026, 3, 1, tzinfo=UTC))]
    steps += daily_usage(dt.date(2026, 3, 2), [2] * 24, tz=BERLIN)  # Mar 2..25, then silence
    state, _ = run(DETECTOR, steps)
    due = DETECTOR.next_deadline(state)
    assert due == dt.datetime(2026, 3, 29, 22, 5, tzinfo=UTC)
    _, [signal] = run(DETECTOR, [Tick(due)], state)
    assert signal.episode_key == "usage_drop:c1:2026-03-29"
    assert signal.attributes["time_zone"] == "Europe/Berlin"


def test_old_buckets_are_pruned():
    state, _ = run(DETECTOR, daily_usage(JAN1, [1] * 120) + [Tick(midnight(dt.date(2026, 5, 1)) + GRACE)])
    assert len(state["buckets"]) <= 35


def test_config_validation():
    with pytest.raises(ValueError, match="min_history_days"):
        UsageDropConfig(recent_days=7, min_history_days=7)
    with pytest.raises(ValueError, match="at least 1"):
        UsageDropConfig(baseline_days=0)
