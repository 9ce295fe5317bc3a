"""The declared metrics of a spec, as state updates and readers over plain JSON-able data.

Every metric reads one *source*: what one event type (and property, and ``where`` filter) leaves
in a customer's state. Metrics over the same source share it, so ``orders_7d`` and ``orders_90d``
keep one set of daily buckets. A source's state lives at ``state["x"][source id]``:

- ``buckets`` (count, sum, trend): ``{day: number}``, whole UTC days since the epoch as text,
  pruned to the longest window any of its metrics reads;
- ``values`` (distinct, dropped): ``{value: last day used}``, at most ``MAX_VALUES`` values (the
  least recently used go first);
- ``last`` (last_seen): the epoch seconds of the last matching event.

Total, like the core features (``signals.fold_domain``): a summed value is a finite number from 0
to ``MAX_AMOUNT`` (text that is no such number adds 0) and a day's sum saturates there, so every
state stays plain JSON (``inf`` would be stored as ``null`` and break the next fold); a ratio
that does not come out finite is nan.

The source id is a short digest of its definition, so a state stays valid when metrics are
added, renamed or reordered in the spec.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable

from signals.features.spec import Metric
from signals.fold_domain import MAX_AMOUNT

DAY = 86400.0
MAX_VALUES = 64  # distinct values remembered per source (feature names, carriers, ...)
NAN = float("nan")
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()

Reader = Callable[[dict[str, Any], float, int], float]


@dataclass(frozen=True)
class Source:
    """What one (event, property, where) leaves in the state, and for how many days."""

    store: str  # "count" | "sum" | "values" | "last"
    event: str
    property: str | None
    where: tuple[tuple[str, Any], ...]
    horizon: int = 0  # days of buckets or values any reader needs

    @property
    def key(self) -> str:
        """A short stable id: the digest of everything but the horizon."""
        text = repr((self.store, self.event, self.property, self.where))
        return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


def source_of(metric: Metric) -> Source:
    """The source a metric reads (its horizon still 0)."""
    kind = metric.kind
    if kind in ("distinct", "dropped"):
        store = "values"
    elif kind == "last_seen":
        store = "last"
    elif kind == "trend":
        store = metric.of or "count"
    else:
        store = kind
    return Source(store, metric.event or "", metric.property, tuple(sorted(metric.where.items())))


def _value(props: Any, path: str) -> Any:
    head, _, rest = path.partition(".")
    value = getattr(props, head, None)
    if rest:
        value = value.get(rest) if isinstance(value, dict) else None
    return value


def event_day(event: Any, t: float) -> int:
    """The UTC day an event counts on: a usage aggregate's own ``day``, else its time's day."""
    day = getattr(event.properties, "day", None) if event.type == "product.usage" else None
    return day.toordinal() - _EPOCH_ORDINAL if day is not None else int(t // DAY)


def updater(source: Source) -> Callable[[dict[str, Any], Any, float, int], None]:
    """``update(x, event, t, day)``: fold one event of ``source.event`` into ``x`` in place."""
    key, path, where, store, horizon = source.key, source.property, source.where, source.store, source.horizon

    def selected(props: Any) -> Any:
        """The event's contribution, or None when it does not count."""
        for name, expected in where:
            if getattr(props, name, None) != expected:
                return None
        if path is None:
            return 1
        value = _value(props, path)
        return value if value else None

    if store in ("count", "sum"):
        def update(x: dict[str, Any], event: Any, t: float, day: int) -> None:
            value = selected(event.properties)
            if value is None:
                return
            amount = 1 if store == "count" else _number(value)
            buckets = x.setdefault(key, {})
            name = str(day)
            if name in buckets:
                buckets[name] = min(buckets[name] + amount, MAX_AMOUNT)  # saturates: stays a JSON number
                return
            buckets[name] = amount
            if len(buckets) > horizon + 2:  # prune days no window reaches any more
                newest = max(map(int, buckets))
                for old in [k for k in buckets if int(k) < newest - horizon]:
                    del buckets[old]
    elif store == "values":
        def update(x: dict[str, Any], event: Any, t: float, day: int) -> None:
            value = selected(event.properties)
            if value is None:
                return
            values = x.setdefault(key, {})
            for item in _items(value):
                if item not in values or values[item] < day:  # days before 1970 are negative
                    values[item] = day
            while len(values) > MAX_VALUES:
                del values[min(values, key=values.__getitem__)]
    else:
        def update(x: dict[str, Any], event: Any, t: float, day: int) -> None:
            if selected(event.properties) is not None and t > x.get(key, -math.inf):
                x[key] = t
    return update


def _number(value: Any) -> float:
    """What a sum adds for ``value``: a finite number from 0 to ``MAX_AMOUNT``, else 0."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return min(number, MAX_AMOUNT) if number > 0 and math.isfinite(number) else 0.0


def _items(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k, v in value.items() if v]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    return [str(value)]


def reader(metric: Metric, source: Source, windows: dict[str, int]) -> Reader:
    """``read(x, t, today)`` -> the metric's value as of ``t`` (``today`` = its UTC day)."""
    key, kind = source.key, metric.kind
    if kind in ("count", "sum"):
        w = windows[metric.window or ""]
        return lambda x, t, today: float(sum(v for d, v in x.get(key, {}).items() if int(d) >= today - w))
    if kind == "distinct":
        w = windows[metric.window or ""]
        return lambda x, t, today: float(sum(1 for d in x.get(key, {}).values() if d >= today - w))
    if kind == "last_seen":
        return lambda x, t, today: (t - x[key]) / DAY if key in x else NAN
    recent, baseline = windows[metric.recent or ""], windows[metric.baseline or ""]
    if kind == "dropped":
        return lambda x, t, today: float(sum(
            1 for d in x.get(key, {}).values() if today - recent - baseline <= d < today - recent))

    def trend(x: dict[str, Any], t: float, today: int) -> float:
        now_sum = before = 0.0
        for d, v in x.get(key, {}).items():
            day = int(d)
            if day >= today - recent:
                now_sum += v
            elif day >= today - recent - baseline:
                before += v
        return (now_sum + 1.0) / (before * recent / baseline + 1.0)

    return trend


def horizon_of(metric: Metric, windows: dict[str, int]) -> int:
    """Days of history a metric reads back from today."""
    if metric.kind in ("trend", "dropped"):
        return windows[metric.recent or ""] + windows[metric.baseline or ""]
    return windows[metric.window or ""] if metric.window else 0
