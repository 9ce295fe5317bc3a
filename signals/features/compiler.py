"""Compile a ``FeatureSpec`` once into the fold the worker, the replay, the backtest and the dataset
builder all run.

A ``CompiledSpec`` offers what ``signals.customer_fold.CustomerFold`` expects of its features::

    FEATURE_NAMES, CATEGORICAL_FEATURES     the vector's columns (core first, then declared)
    initial_state() -> dict                 JSON-able; core keys at the top, declared sources in "x"
    on_event(state, event) -> dict          pure: copies only what this event changes
    fold_in_place(state, event) -> None     the same without the copy, for a caller owning the state
    vector(state, now) -> list[float]       values in FEATURE_NAMES order as of ``now``

Compiling resolves everything that does not depend on the data: which sources an event type
updates (a dict lookup per event), how many days each source keeps, and one reader per metric.
A state from before declared metrics existed (no ``"x"``) folds on as if they had been empty.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from signals.features import core
from signals.features.declared import NAN, Source, event_day, horizon_of, reader, source_of, updater
from signals.features.spec import FeatureSpec, Metric, SpecError

DAY = 86400.0


class CompiledSpec:
    """A feature spec turned into a pure fold over plain-data state."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.fingerprint = spec.fingerprint()
        metrics = spec.all_metrics()
        _check_references(spec, metrics)
        core_names = core.FEATURE_NAMES if spec.core else ()
        names = (*core_names, *(m.name for m in metrics))
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SpecError(f"metric names must be unique and not reuse core feature names: {duplicates}")
        self.FEATURE_NAMES: tuple[str, ...] = names
        self.CATEGORICAL_FEATURES: tuple[str, ...] = core.CATEGORICAL_FEATURES if spec.core else ()
        self._core = spec.core
        sources: dict[str, Source] = {}
        for metric in metrics:
            if metric.kind == "ratio":
                continue
            source = source_of(metric)
            known = sources.get(source.key, source)
            horizon = max(known.horizon, horizon_of(metric, spec.windows))
            sources[source.key] = Source(source.store, source.event, source.property, source.where, horizon)
        routes: dict[str, list[Callable[..., None]]] = {}
        mutated: dict[str, list[str]] = {}
        for source in sources.values():
            routes.setdefault(source.event, []).append(updater(source))
            if source.store != "last":
                mutated.setdefault(source.event, []).append(source.key)
        self._routes = {event: tuple(fns) for event, fns in routes.items()}
        self._mutated = {event: tuple(keys) for event, keys in mutated.items()}
        position = {m.name: i for i, m in enumerate(metrics)}
        self._readers: list[tuple[int, Any]] = []
        for i, metric in enumerate(metrics):
            if metric.kind == "ratio":
                self._readers.append((i, (position[metric.numerator or ""], position[metric.denominator or ""])))
            else:
                self._readers.append((i, reader(metric, sources[source_of(metric).key], spec.windows)))
        self._has_ratio = any(m.kind == "ratio" for m in metrics)

    def __repr__(self) -> str:
        return f"CompiledSpec({len(self.FEATURE_NAMES)} features, {self.fingerprint})"

    def initial_state(self) -> dict[str, Any]:
        """An empty customer."""
        state = core.initial_state() if self._core else {}
        state["x"] = {}
        return state

    def on_event(self, state: dict[str, Any], event: Any) -> dict[str, Any]:
        """Fold one event into a copy of ``state`` (only the containers it changes are copied)."""
        s = core._copy(state, core._MUTATED.get(event.type)) if self._core else dict(state)
        keys = self._mutated.get(event.type)
        if event.type in self._routes:
            x = dict(s.get("x") or {})
            for key in keys or ():
                if key in x:
                    x[key] = dict(x[key])
            s["x"] = x
        self.fold_in_place(s, event)
        return s

    def fold_in_place(self, s: dict[str, Any], event: Any) -> None:
        """Fold one event into ``s`` itself (see ``core.fold_in_place`` for who may call this)."""
        if self._core:
            core.fold_in_place(s, event)
        fns = self._routes.get(event.type)
        if fns:
            x = s.get("x")
            if x is None:
                x = s["x"] = {}
            t = event.occurred_at.timestamp()
            day = event_day(event, t)
            for fn in fns:
                fn(x, event, t, day)

    def vector(self, state: dict[str, Any], now: Any) -> list[float]:
        """Feature values as of ``now`` (an aware datetime), in ``FEATURE_NAMES`` order."""
        out = core.vector(state, now) if self._core else []
        if not self._readers:
            return out
        t = now.timestamp()
        today = int(t // DAY)
        x = state.get("x") or {}
        values: list[Any] = [r if isinstance(r, tuple) else r(x, t, today) for _, r in self._readers]
        if self._has_ratio:
            values = [_ratio(values, v) if isinstance(v, tuple) else v for v in values]
        out.extend(values)
        return out


def _ratio(values: list[Any], pair: tuple[int, int]) -> float:
    num, den = values[pair[0]], values[pair[1]]
    if isinstance(num, tuple) or isinstance(den, tuple):
        raise SpecError("a ratio may not divide ratios")  # caught at compile time by _check_references
    if not den or math.isnan(den) or math.isnan(num):
        return NAN
    value = num / den
    return value if math.isfinite(value) else NAN  # a tiny denominator: no inf for the model or JSON


def _check_references(spec: FeatureSpec, metrics: list[Metric]) -> None:
    """Windows and ratio operands must exist; a ratio divides two non-ratio metrics."""
    kinds = {m.name: m.kind for m in metrics}
    for i, metric in enumerate(metrics):
        where = f"metrics.{i} ({metric.name})"
        for field in ("window", "recent", "baseline"):
            value = getattr(metric, field)
            if value is not None and value not in spec.windows:
                raise SpecError(f"{where}: {field} {value!r} is not one of the windows {sorted(spec.windows)}")
        if metric.kind == "ratio":
            for operand in (metric.numerator, metric.denominator):
                if operand not in kinds:
                    raise SpecError(f"{where}: ratio operand {operand!r} is not a declared metric")
                if kinds[operand] == "ratio":
                    raise SpecError(f"{where}: ratio operand {operand!r} is itself a ratio")
    for name in (spec.usage_features.window, spec.usage_features.recent, spec.usage_features.baseline):
        if spec.usage_features.names and name not in spec.windows:
            raise SpecError(f"usage_features: window {name!r} is not one of the windows {sorted(spec.windows)}")
