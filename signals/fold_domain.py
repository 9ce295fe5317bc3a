"""The times and counts the fold computes with, so that no event the envelope accepts can overflow it.

The envelope accepts any aware datetime: year 1 at +14:00 (before ``datetime.min`` in UTC) and
9999-12-31T23:59:59 (whose idle deadline is past ``datetime.max``). Detectors add and subtract
their configured durations (idle time, grace, margins, windows of days), so the fold keeps every
instant it hands them between ``EARLIEST`` and ``LATEST``, which leave ``MAX_SPAN`` of room at
both ends: an event time, a promised date or a tick's ``now`` outside is clamped to the nearest
end. Nothing real is changed (the worker refuses events more than a day in the future, see
``signals.event_time``); the fold simply stays total on hostile input, offline too.

Counts (sessions per day) saturate at ``MAX_COUNT`` and amounts at ``MAX_AMOUNT`` where they are
summed, so a sum never becomes a number the changelog's JSON cannot hold (``inf`` is written as
``null`` and would break the next fold) nor one ``float()`` cannot convert.

>>> clamp(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)) == LATEST
True
>>> clamp(dt.datetime(2026, 11, 2, tzinfo=UTC)).year
2026
"""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

import pydantic

UTC = dt.timezone.utc
MAX_SPAN = dt.timedelta(days=3660)  # the longest duration a detector may add or subtract (~10 years)
EARLIEST = dt.datetime.min.replace(tzinfo=UTC) + MAX_SPAN
LATEST = dt.datetime.max.replace(tzinfo=UTC) - MAX_SPAN
EARLIEST_DAY, LATEST_DAY = EARLIEST.date(), LATEST.date()
MAX_COUNT = 2**31 - 1  # sessions in one day bucket
MAX_AMOUNT = 1e12  # a customer's summed order value, in any currency


def clamp(value: dt.datetime) -> dt.datetime:
    """``value`` if it lies in the domain, else the nearest end (comparing aware times never overflows)."""
    if value < EARLIEST:
        return EARLIEST
    if value > LATEST:
        return LATEST
    return value


def clamp_day(value: dt.date) -> dt.date:
    """A calendar day kept inside the domain's days."""
    return min(max(value, EARLIEST_DAY), LATEST_DAY)


def add_count(total: int, count: int) -> int:
    """``total + count``, saturating at ``MAX_COUNT``."""
    return min(total + count, MAX_COUNT)


def amount(value: float) -> float:
    """A money amount as the fold sums it: finite, at most ``MAX_AMOUNT``."""
    return min(float(value), MAX_AMOUNT)


def check_span(name: str, value: dt.timedelta) -> None:
    """Refuse a configured duration longer than the domain leaves room for."""
    if abs(value) > MAX_SPAN:
        raise ValueError(f"{name} must be at most {MAX_SPAN.days} days, got {value}")


# pydantic's constrained datetime types are marker classes, not datetime subclasses.
_PYDANTIC_TIMES = (pydantic.AwareDatetime, pydantic.NaiveDatetime, pydantic.PastDatetime, pydantic.FutureDatetime,
                   pydantic.PastDate, pydantic.FutureDate)


def _holds_time(annotation: Any) -> bool:
    """Whether a field annotation can hold a date or datetime (``AwareDatetime | None`` too)."""
    if annotation in _PYDANTIC_TIMES or (isinstance(annotation, type) and issubclass(annotation, dt.date)):
        return True
    return any(_holds_time(arg) for arg in typing.get_args(annotation))


def _time_fields(payload_type: type) -> tuple[str, ...]:
    """Names of a payload model's datetime and date fields."""
    return tuple(name for name, info in payload_type.model_fields.items() if _holds_time(info.annotation))


_FIELDS: dict[type, tuple[str, ...]] = {}


def _out(value: Any) -> bool:
    if isinstance(value, dt.datetime):
        return value < EARLIEST or value > LATEST
    if isinstance(value, dt.date):
        return value < EARLIEST_DAY or value > LATEST_DAY
    return False


def in_domain(event: Any) -> Any:
    """The event itself when every time in it lies in the domain, else a copy with them clamped."""
    props = event.properties
    kind = type(props)
    fields = _FIELDS.get(kind)
    if fields is None:
        fields = _FIELDS[kind] = _time_fields(kind)
    bad = [name for name in fields if _out(getattr(props, name))]
    if not bad and not _out(event.occurred_at):
        return event
    fixed = {}
    for name in bad:
        value = getattr(props, name)
        fixed[name] = clamp(value) if isinstance(value, dt.datetime) else clamp_day(value)
    update: dict[str, Any] = {"occurred_at": clamp(event.occurred_at)}
    if fixed:
        update["properties"] = props.model_copy(update=fixed)
    return event.model_copy(update=update)
