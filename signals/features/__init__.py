"""Per-customer features for the churn-risk model: a declared spec compiled into one fold.

- ``spec``: the spec as data (``FeatureSpec``; YAML/JSON files; the built-in ``builtin.yaml``)
- ``core``: the hand-written core features every spec may include (``core: true``)
- ``declared``: count / sum / distinct / last-seen / trend / dropped / ratio metrics over windows
- ``compiler``: ``CompiledSpec``, the fold the worker, replay, backtest and dataset builder share

``compiled(path)`` compiles a spec file once per process (the built-in spec for None).
This module itself behaves as the built-in compiled spec (``FEATURE_NAMES``, ``initial_state``,
``on_event``, ``fold_in_place``, ``vector``), so ``CustomerFold(features=signals.features)``
and older callers keep working.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from infra.settings import FeatureSettings
from signals.features.compiler import CompiledSpec
from signals.features.core import (  # noqa: F401 - re-exported: constants the tests and tools read
    DAY,
    HALF_LIFE_DAYS,
    IDLE_CHECKOUT_SECONDS,
    OPEN_LIMIT,
    RECENT_LIMIT,
    USAGE_DAYS,
    plan_code,
)
from signals.features.spec import FeatureSpec, SpecError, builtin_spec, load_spec, parse_spec  # noqa: F401


@lru_cache(maxsize=16)
def _compiled(path: str | None) -> CompiledSpec:
    return CompiledSpec(load_spec(path))


def compiled(path: str | Path | None = None) -> CompiledSpec:
    """The compiled spec of a file (the built-in spec for None), compiled once per process."""
    return _compiled(str(Path(path).resolve()) if path is not None else None)


def from_settings(settings: FeatureSettings) -> CompiledSpec:
    """The spec ``RETAIN_FEATURE_SPEC`` names (``settings.feature_spec``), else the built-in one."""
    return compiled(settings.feature_spec)


def discover_usage_features(events: Iterable[Any], *, top: int = 16, min_share: float = 0.01) -> list[str]:
    """The product features most often in ``feature_counts`` (in at least ``min_share`` of usage events)."""
    counts: Counter[str] = Counter()
    usage = 0
    for event in events:
        if event.type == "product.usage":
            usage += 1
            counts.update(k for k, v in event.properties.feature_counts.items() if v)
    return sorted(name for name, n in counts.most_common(top) if usage and n / usage >= min_share)


BUILTIN = compiled()
FEATURE_NAMES: tuple[str, ...] = BUILTIN.FEATURE_NAMES
CATEGORICAL_FEATURES: tuple[str, ...] = BUILTIN.CATEGORICAL_FEATURES
initial_state = BUILTIN.initial_state
on_event = BUILTIN.on_event
fold_in_place = BUILTIN.fold_in_place
vector = BUILTIN.vector
