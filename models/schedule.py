"""Observation schedules: the dates at which a training table takes each customer's features.

``every`` is a number of days (``7``, ``"7d"``), ``"week"`` (7 days) or ``"month"`` (calendar
months: the same day of each month as ``start``, the month's last day when it is shorter).

>>> import datetime as dt
>>> jan31 = dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc)
>>> [d.date().isoformat() for d in observation_dates(jan31, jan31.replace(month=3), "month")]
['2026-01-31', '2026-02-28', '2026-03-31']
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Iterable

_DAYS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*d?\s*$")


def _add_months(start: dt.datetime, months: int) -> dt.datetime:
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)


def parse_every(every: float | str) -> float | str:
    """``every`` as a number of days or ``"month"``; raises ValueError naming what is accepted."""
    if isinstance(every, (int, float)):
        days = float(every)
    elif every.strip().lower() in ("month", "monthly", "1m"):
        return "month"
    elif every.strip().lower() in ("week", "weekly", "1w"):
        days = 7.0
    else:
        match = _DAYS.match(every)
        if match is None:
            raise ValueError(f"--every must be a number of days (7, 7d), 'week' or 'month', not {every!r}")
        days = float(match.group(1))
    if days <= 0:
        raise ValueError("--every must be a positive number of days")
    return days


def observation_dates(start: dt.datetime, end: dt.datetime, every: float | str = 7.0) -> list[dt.datetime]:
    """Dates from ``start`` to ``end`` inclusive on the schedule ``every`` (see the module doc)."""
    step = parse_every(every)
    dates: list[dt.datetime] = []
    n = 0
    while True:
        current = _add_months(start, n) if step == "month" else start + dt.timedelta(days=float(step) * n)
        if current > end:
            return dates
        dates.append(current)
        n += 1


def parse_dates(texts: Iterable[str]) -> list[dt.datetime]:
    """ISO dates or datetimes (UTC when no offset is given), sorted."""
    out = []
    for text in texts:
        value = dt.datetime.fromisoformat(text.strip())
        out.append(value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc))
    return sorted(out)
