"""A feature spec: which per-customer metrics the fold computes, declared as data (YAML or JSON).

A data scientist extends the features by editing a spec file, never the fold::

    version: 1
    core: true                      # the hand-written core features (signals.features.core)
    windows: {7d: 7, 28d: 28, 90d: 90}
    metrics:
      - {name: orders_7d, kind: count, event: order.placed, window: 7d}
      - {name: spend_90d, kind: sum, event: order.placed, property: amount, window: 90d}
      - {name: carriers_90d, kind: distinct, event: order.shipped, property: carrier, window: 90d}
      - {name: days_since_click, kind: last_seen, event: message.response, where: {response: clicked}}
      - {name: spend_per_order_90d, kind: ratio, numerator: spend_90d, denominator: orders_90d}
      - {name: sessions_trend, kind: trend, event: product.usage, property: sessions, recent: 7d, baseline: 28d}
      - {name: features_dropped, kind: dropped, event: product.usage, property: feature_counts,
         recent: 7d, baseline: 28d}
    usage_features:                 # per-feature usage from product.usage feature_counts
      names: [reports, export]
      window: 28d
      recent: 7d
      baseline: 28d

Kinds: ``count`` (events, or events whose ``property`` is set and non-zero), ``sum`` (of a numeric
``property``), ``distinct`` (values of ``property``; the keys used of a dict such as
``feature_counts``), ``last_seen`` (days since the last such event), ``trend`` (the ``recent``
window's count or sum against the customer's own rate over the ``baseline`` window before it:
``(recent + 1) / (baseline * recent_days / baseline_days + 1)``; ``of: count`` or ``of: sum``),
``dropped`` (values of ``property`` used in the baseline window and not since), ``ratio``
(``numerator / denominator``, two other metrics; nan when the denominator is 0). ``where`` keeps
only events whose properties equal the given values. A ``property`` may reach into a dict with a
dot: ``feature_counts.reports``. Windows count whole UTC days (the day of an event, or the
``day`` of a usage aggregate): a window of ``W`` days at ``now`` holds the ``W`` days before
``now``'s day and ``now``'s day so far.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from signals.events import PAYLOADS

BUILTIN_PATH = Path(__file__).with_name("builtin.yaml")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
Kind = Literal["count", "sum", "distinct", "last_seen", "trend", "dropped", "ratio"]
_NEEDS_PROPERTY = {"sum", "distinct", "dropped"}
_WINDOWED = {"count", "sum", "distinct"}


class SpecError(ValueError):
    """A spec that cannot be compiled; the message names the metric and the field."""


class Metric(BaseModel):
    """One declared metric (see the module docstring for the kinds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Kind
    event: str | None = None
    property: str | None = None
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)
    window: str | None = None
    recent: str | None = None
    baseline: str | None = None
    of: Literal["count", "sum"] | None = None
    numerator: str | None = None
    denominator: str | None = None

    @field_validator("name")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"metric name {value!r} must be snake_case (a-z, 0-9, _; a letter first)")
        return value

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> "Metric":
        kind = self.kind
        if kind == "ratio":
            if not (self.numerator and self.denominator):
                raise ValueError("a ratio needs numerator and denominator (names of other metrics)")
            return self
        if self.event not in PAYLOADS:
            raise ValueError(f"event must be one of {sorted(PAYLOADS)}, not {self.event!r}")
        if kind in _NEEDS_PROPERTY and not self.property:
            raise ValueError(f"a {kind} metric needs a property")
        if self.property:
            field = self.property.split(".")[0]
            known = PAYLOADS[self.event].model_fields
            if field not in known:
                raise ValueError(f"{self.event} has no property {field!r} (it has {sorted(known)})")
        for key in self.where:
            if key not in PAYLOADS[self.event].model_fields:
                raise ValueError(f"where: {self.event} has no property {key!r}")
        if kind in _WINDOWED and not self.window:
            raise ValueError(f"a {kind} metric needs a window")
        if kind in ("trend", "dropped") and not (self.recent and self.baseline):
            raise ValueError(f"a {kind} metric needs recent and baseline windows")
        if kind == "trend" and self.of is None:
            object.__setattr__(self, "of", "sum" if self.property else "count")
        return self


class UsageFeatures(BaseModel):
    """Per-feature usage from ``product.usage`` ``feature_counts``: uses over ``window``, trend, recency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: list[str] = Field(default_factory=list)
    window: str = "28d"
    recent: str = "7d"
    baseline: str = "28d"

    @field_validator("names")
    @classmethod
    def _slugs(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not _NAME.match(slug(n))]
        if bad or len(set(names)) != len(names):
            raise ValueError(f"usage feature names must be distinct and start with a letter: {bad or names}")
        return names


class FeatureSpec(BaseModel):
    """The whole spec: core features on or off, named windows, declared metrics, usage features."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    core: bool = True
    windows: dict[str, int] = Field(default_factory=lambda: {"7d": 7, "28d": 28})
    metrics: list[Metric] = Field(default_factory=list)
    usage_features: UsageFeatures = Field(default_factory=UsageFeatures)

    @field_validator("windows")
    @classmethod
    def _positive(cls, windows: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in windows.items() if v < 1 or v > 3660}
        if bad:
            raise ValueError(f"windows are whole days from 1 to 3660: {bad}")
        return windows

    def all_metrics(self) -> list[Metric]:
        """The declared metrics followed by those ``usage_features`` expands into."""
        usage = self.usage_features
        expanded = []
        for name in usage.names:
            path = f"feature_counts.{name}"
            expanded += [
                Metric(name=f"usage_{slug(name)}_{usage.window}".replace("-", "_"), kind="sum",
                       event="product.usage", property=path, window=usage.window),
                Metric(name=f"usage_{slug(name)}_trend", kind="trend", event="product.usage", property=path,
                       recent=usage.recent, baseline=usage.baseline),
                Metric(name=f"days_since_{slug(name)}", kind="last_seen", event="product.usage", property=path),
            ]
        return [*self.metrics, *expanded]

    def with_usage_features(self, names: list[str]) -> "FeatureSpec":
        """The same spec tracking ``names`` (e.g. from ``discover_usage_features``) per feature."""
        usage = self.usage_features.model_copy(update={"names": list(names)})
        return self.model_copy(update={"usage_features": UsageFeatures.model_validate(usage.model_dump())})

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what a model card and a table's metadata store)."""
        return self.model_dump(mode="json", exclude_defaults=False)

    def fingerprint(self) -> str:
        """A short stable digest of the spec's content."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def slug(name: str) -> str:
    """A product feature name as it appears inside a metric name (lower case, ``_`` for the rest)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def parse_spec(data: Any, *, source: str = "spec") -> FeatureSpec:
    """Validate plain data into a ``FeatureSpec``; errors name the field (``metrics.2.window: ...``)."""
    try:
        return FeatureSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in exc.errors())
        raise SpecError(f"{source}: {problems}") from None


def load_spec(path: str | Path | None = None) -> FeatureSpec:
    """A spec from a YAML or JSON file; the built-in spec when ``path`` is None."""
    path = Path(path) if path is not None else BUILTIN_PATH
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read the feature spec: {exc}") from None
    return parse_spec(data or {}, source=str(path))


def builtin_spec() -> FeatureSpec:
    """The spec the service runs unless ``RETAIN_FEATURE_SPEC`` names another file."""
    return load_spec(BUILTIN_PATH)
