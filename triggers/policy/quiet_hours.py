"""Quiet hours in the recipient's local time: when may this message go out, at the earliest?

The send window is a local wall-clock window (default SMS 08:00-21:00, start inclusive, end
exclusive), narrowed by every region the recipient may be in (``US-FL``: 08:00-20:00). It must
hold in every time zone the recipient may be in (the stated one and the phone area code's), so
when they disagree the stricter combination wins. Wall-clock arithmetic through ``zoneinfo``
keeps it right across DST changes: "08:00 tomorrow" is 08:00 local whether the day has 23, 24
or 25 hours.

>>> import datetime as dt
>>> from triggers.policy.config import DailyWindow
>>> window = DailyWindow(start=dt.time(8), end=dt.time(21))
>>> now = dt.datetime(2026, 3, 8, 6, 0, tzinfo=dt.timezone.utc)  # 01:00 in New York
>>> next_allowed_moment(now, {"America/New_York"}, window, dt.timedelta(days=8)).isoformat()
'2026-03-08T12:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from triggers.policy.config import DailyWindow, PolicyConfig
from triggers.policy.regions import recipient_time_zones
from triggers.rule import Channel

_MAX_STEPS = 256


def _first_moment_at(day: dt.date, start: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The first UTC instant whose local wall-clock reading on ``day`` is at or after ``start``."""
    naive = dt.datetime.combine(day, start)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(dt.timezone.utc)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(dt.timezone.utc)
    if second >= first:
        return first  # an ordinary time, or the first of two readings when clocks fall back
    # Clocks sprang forward over ``start``: it never happens on the wall. The first real moment
    # after it is the transition itself, which lies between the two readings; bisect to it.
    low, high = second, first
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        local = middle.astimezone(tz)
        if (local.date(), local.time()) >= (day, start):
            high = middle
        else:
            low = middle
    return high


def _next_window_start(local: dt.datetime, window: DailyWindow) -> dt.datetime:
    # Called only when local time is outside the window: before its start today, or after its end.
    day = local.date() if local.time() < window.start else local.date() + dt.timedelta(days=1)
    return _first_moment_at(day, window.start, local.tzinfo)


def next_allowed_moment(
    now: dt.datetime, zones: Iterable[str], window: DailyWindow, horizon: dt.timedelta,
) -> dt.datetime | None:
    """The earliest moment >= ``now`` inside ``window`` in every zone, or None within ``horizon``."""
    tzs = [ZoneInfo(z) for z in sorted(set(zones))]
    moment = now.astimezone(dt.timezone.utc)
    deadline = moment + horizon
    for _ in range(_MAX_STEPS):
        moved = False
        for tz in tzs:
            local = moment.astimezone(tz)
            if not window.contains(local.time()):
                moment = _next_window_start(local, window)
                moved = True
        if not moved:
            return moment
        if moment > deadline:
            return None
    return None


def send_window(channel: Channel, regions: set[str], config: PolicyConfig) -> DailyWindow | None:
    """The local window for the channel, narrowed by the recipient's regions (None = any time)."""
    if channel == "email":
        return config.email_window
    window = config.sms_window
    for region in sorted(regions):
        regional = config.regions.get(region)
        if regional is not None and regional.sms_window is not None:
            window = window.narrowed(regional.sms_window)
    return window


def earliest_send(
    channel: Channel, customer: Mapping[str, Any], regions: set[str], now: dt.datetime, config: PolicyConfig,
) -> tuple[dt.datetime | None, str]:
    """When the message may go out (``now`` when allowed now; None when never within the horizon).

    The second item names the window and zones applied, for the decision's detail.
    """
    window = send_window(channel, regions, config)
    if window is None:
        return now, ""
    # An e-mail address says nothing about where its reader is; a phone number's area code does.
    zones = recipient_time_zones(customer, use_phone=channel == "sms") or set(config.fallback_time_zones)
    detail = f"{channel} {window.start:%H:%M}-{window.end:%H:%M} in {', '.join(sorted(zones))}"
    moment = next_allowed_moment(now, zones, window, config.defer_horizon)
    if moment is not None and moment <= now:
        return now, detail
    return moment, detail
