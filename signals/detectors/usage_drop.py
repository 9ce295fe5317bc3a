"""Usage drop: a customer's recent product usage fell well below their own baseline.

``product.usage`` sessions are summed into daily buckets keyed by the LOCAL date of the customer
(time zone from the latest ``customer.profile`` with ``time_zone``; UTC until one is known; a
``day`` field on the event names the bucket directly). A day is judged once it is over: at local
midnight plus ``grace`` (``on_tick``), so days of 23 or 25 hours around DST are judged at their
real end, and a customer who stops using the product entirely is judged on the zero days.

Judging day ``D``: ``recent_avg`` = sessions per day over the ``recent_days`` ending on ``D``;
``baseline_avg`` = sessions per day over the ``baseline_days`` before those, counting only days
since the first usage. It fires when all of

* at least ``min_history_days`` days from the first usage day to ``D`` (new customers are quiet),
* ``baseline_avg >= min_baseline_avg`` (naturally quiet customers never fire),
* ``recent_avg <= (1 - drop_ratio) * baseline_avg``,

hold and no episode is open. ONE signal per episode, ``episode_key =
"usage_drop:{customer}:{D}"`` (``D`` the first judged day of the episode, local ISO date). The
episode closes (re-arms) on a judged day where ``recent_avg >= rearm_ratio * baseline_avg`` and
``recent_avg >= min_baseline_avg`` (real use again, not just a baseline decayed to nothing).

Lateness: a usage event for a day not judged yet simply counts (grace exists for this); one for an
already judged day still updates the bucket, which affects later days only. Days missed between
ticks are judged in order on the next tick, so the outcome does not depend on tick cadence.
Attributes: ``recent_avg, baseline_avg, drop_pct, day, recent_days, baseline_days, time_zone``.

Example (a customer with 2 sessions a day for 28 days, then nothing):

>>> import datetime as dt
>>> from signals.events import parse_event
>>> detector = UsageDropDetector()
>>> state = detector.initial_state()
>>> for n in range(28):
...     day = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc) + dt.timedelta(days=n)
...     state, _ = detector.on_event(state, parse_event({"event_id": f"u{n}", "customer_id": "c1",
...         "type": "product.usage", "occurred_at": day.isoformat(), "properties": {"sessions": 2}}))
>>> _, signals = detector.on_tick(state, dt.datetime(2026, 2, 5, tzinfo=dt.timezone.utc))
>>> signals[0].episode_key, signals[0].attributes["recent_avg"], signals[0].attributes["baseline_avg"]
('usage_drop:c1:2026-02-01', 0.86, 2.0)
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from signals.detectors.base import UTC, from_iso, iso
from signals.fold_domain import add_count, check_span
from signals.signal import Signal

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class UsageDropConfig:
    """Usage drop settings; defaults are the product defaults."""

    recent_days: int = 7  # RETAIN_USAGE_RECENT_DAYS
    baseline_days: int = 28  # RETAIN_USAGE_BASELINE_DAYS
    drop_ratio: float = 0.5  # fire when recent <= (1 - drop_ratio) * baseline
    rearm_ratio: float = 0.8  # re-arm when recent >= rearm_ratio * baseline
    min_baseline_avg: float = 1.0  # sessions per day
    min_history_days: int = 28  # days since the first usage before anything can fire
    grace: dt.timedelta = dt.timedelta(minutes=5)  # wait for late usage after local midnight

    def __post_init__(self) -> None:
        if self.recent_days < 1 or self.baseline_days < 1:
            raise ValueError("recent_days and baseline_days must be at least 1")
        if self.min_history_days <= self.recent_days:
            raise ValueError("min_history_days must exceed recent_days so a baseline exists")
        check_span("usage window", dt.timedelta(days=self.recent_days + self.baseline_days + self.min_history_days))


def _zone(name: str | None) -> dt.tzinfo:
    return UTC if name is None else ZoneInfo(name)  # ZoneInfo caches instances per key


# Ticks judge one day per customer per day, and customers share days and zones: the day ends and
# ISO dates are memoised (pure functions of hashable values; bounded caches).
@functools.lru_cache(maxsize=16384)
def _day_end(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The instant local day ``day`` ends (next local midnight), in UTC."""
    return dt.datetime.combine(day + _DAY, dt.time(0), tzinfo=zone).astimezone(UTC)


_iso_date = functools.lru_cache(maxsize=16384)(dt.date.isoformat)
_parse_date = functools.lru_cache(maxsize=16384)(dt.date.fromisoformat)
_parse_due = functools.lru_cache(maxsize=16384)(from_iso)


@functools.lru_cache(maxsize=16384)
def _due_text(day: dt.date, zone: dt.tzinfo, grace: dt.timedelta) -> str:
    """The stored deadline of judging ``day``: its local end plus ``grace``."""
    return iso(_day_end(day, zone) + grace)


class UsageDropDetector:
    """Emits one ``usage_drop`` signal per episode of usage far below the customer's baseline."""

    kind = "usage_drop"
    event_types = frozenset({"customer.profile", "product.usage"})

    def __init__(self, config: UsageDropConfig | None = None) -> None:
        self.config = config or UsageDropConfig()
        self._window = self.config.recent_days + self.config.baseline_days
        self._window_span = dt.timedelta(days=self._window)
        self._window_back = dt.timedelta(days=self._window - 1)  # a judged day's window starts this far back
        self._history_span = dt.timedelta(days=self.config.min_history_days - 1)

    def initial_state(self) -> dict[str, Any]:
        """No usage seen; ``judged`` is the last local day judged, ``due`` the next deadline."""
        return {
            "customer_id": None, "tz": None, "buckets": {}, "first_day": None, "judged": None,
            "episode": None, "due": None,
        }

    def on_event(self, state: dict[str, Any], event: Any) -> tuple[dict[str, Any], list[Signal]]:
        """Count usage into its local day bucket; remember the time zone from the profile."""
        kind = event.type
        if kind == "customer.profile":
            tz = event.properties.time_zone
            if tz is None or tz == state["tz"]:
                return state, []
            return self._with_due({**state, "tz": tz}), []
        if kind != "product.usage":
            return state, []
        props = event.properties
        day = props.day or event.occurred_at.astimezone(_zone(state["tz"])).date()
        key = day.isoformat()
        new_state = {**state, "customer_id": state["customer_id"] or event.customer_id}
        first = state["first_day"]
        if first is None or key < first:
            new_state["first_day"] = key
            if first is None:
                new_state["judged"] = (day - _DAY).isoformat()  # nothing to judge before the first usage
            new_state = self._with_due(new_state)
        judged = new_state["judged"]
        # Usage for days already judged only matters while still inside a future window.
        if props.sessions and (
            key > judged or key > (dt.date.fromisoformat(judged) - self._window_span).isoformat()
        ):
            buckets = dict(state["buckets"])
            buckets[key] = add_count(buckets.get(key, 0), props.sessions)  # saturates: stays a JSON int
            new_state["buckets"] = buckets
        return new_state, []

    def _with_due(self, state: dict[str, Any]) -> dict[str, Any]:
        """Store the next deadline (end of the next judgeable day plus grace) in ``state``."""
        if state["first_day"] is None:
            return state
        cfg = self.config
        earliest = _parse_date(state["first_day"]) + dt.timedelta(days=cfg.min_history_days - 1)
        day = max(_parse_date(state["judged"]) + _DAY, earliest)
        state["due"] = _due_text(day, _zone(state["tz"]), cfg.grace)
        return state

    def next_deadline(self, state: dict[str, Any]) -> dt.datetime | None:
        """End of the next day to judge, plus grace."""
        due = state["due"]
        return None if due is None else _parse_due(due)

    def on_tick(self, state: dict[str, Any], now: dt.datetime) -> tuple[dict[str, Any], list[Signal]]:
        """Judge, in order, every finished day whose end plus grace is at or before ``now``."""
        due = state["due"]
        if due is None or _parse_due(due) > now:
            return state, []
        cfg = self.config
        zone = _zone(state["tz"])
        limit = now - cfg.grace
        first = _parse_date(state["first_day"])
        day = max(_parse_date(state["judged"]) + _DAY, first + self._history_span)
        last, next_end = day, _day_end(day + _DAY, zone)
        buckets = state["buckets"]
        stop = last
        if next_end <= limit:  # several days are over (a late or first tick): find the last one
            last = limit.astimezone(zone).date() - _DAY
            while _day_end(last, zone) > limit:  # only where local midnight does not exist (DST)
                last -= _DAY
            next_end = _day_end(last + _DAY, zone)
            # A window holding no usage at all changes nothing (no drop can fire, no re-arm), so
            # days from the last usage plus a full window on are skipped, not judged one by one.
            last_usage = _parse_date(max(buckets, default=state["first_day"]))
            stop = min(last, last_usage + dt.timedelta(days=self._window - 1))
        episode = state["episode"]
        signals: list[Signal] = []
        usage_days = sorted(_parse_date(key) for key in buckets) if stop > day else None
        while day <= stop:
            if usage_days is not None:
                # Days whose window holds no usage change nothing (as above), wherever the gap is:
                # jump to the next day whose window does (usage years apart costs no loop per day).
                i = bisect.bisect_left(usage_days, day - self._window_back)
                if i == len(usage_days):
                    break
                if usage_days[i] > day:
                    day = usage_days[i]
                    continue
            episode, signal = self._judge(state, buckets, day, first, episode, now)
            if signal is not None:
                signals.append(signal)
            day += _DAY
        new_state = {
            **state, "judged": _iso_date(last), "episode": episode, "due": _due_text(last + _DAY, zone, cfg.grace),
        }
        if len(buckets) > self._window + 7:  # prune now and then, not on every tick
            cutoff = (last - dt.timedelta(days=self._window)).isoformat()
            new_state["buckets"] = {key: value for key, value in buckets.items() if key > cutoff}
        return new_state, signals

    def _judge(
        self, state: dict[str, Any], buckets: dict[str, int], day: dt.date, first: dt.date, episode: str | None,
        now: dt.datetime,
    ) -> tuple[str | None, Signal | None]:
        """Judge one finished day: the open episode after it and the signal it fires, if any."""
        cfg = self.config
        baseline_start = max(first, day - dt.timedelta(days=self._window - 1))
        baseline_end = day - dt.timedelta(days=cfg.recent_days)
        baseline_n = (baseline_end - baseline_start).days + 1
        # ISO dates compare as strings: one pass over the (window-sized) buckets, no date parsing.
        key = _iso_date(day)
        recent_from = _iso_date(baseline_end + _DAY)
        base_from = _iso_date(baseline_start)
        recent = baseline = 0
        # ISO dates compare as strings; a bucket before recent_from is at or before baseline_end.
        for bucket, count in buckets.items():
            if bucket >= recent_from:
                if bucket <= key:
                    recent += count
            elif bucket >= base_from:
                baseline += count
        recent_avg = recent / cfg.recent_days
        baseline_avg = baseline / baseline_n
        if episode is not None:
            recovered = recent_avg >= cfg.rearm_ratio * baseline_avg and recent_avg >= cfg.min_baseline_avg
            return (None if recovered else episode), None
        if baseline_avg < cfg.min_baseline_avg or recent_avg > (1 - cfg.drop_ratio) * baseline_avg:
            return None, None
        customer_id = state["customer_id"]
        signal = Signal(
            kind="usage_drop",
            customer_id=customer_id,
            episode_key=f"usage_drop:{customer_id}:{key}",
            detected_at=now,
            reason="usage_drop",
            attributes={
                "day": key,
                "recent_avg": round(recent_avg, 2),
                "baseline_avg": round(baseline_avg, 2),
                "drop_pct": round(100 * (1 - recent_avg / baseline_avg), 1),
                "recent_days": cfg.recent_days,
                "baseline_days": baseline_n,
                "time_zone": state["tz"] or "UTC",
            },
        )
        return key, signal
