"""Process-wide metrics the adapters feed: provider call latency (SendGrid, Twilio, the LLM).

The ``/metrics`` route (``retain.api.metrics``) renders them with the stored totals.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from typing import Any, Mapping

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels_text(labels: Mapping[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Histogram:
    """A thread-safe cumulative histogram per label set (Prometheus semantics)."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self._lock = threading.Lock()
        self._counts: dict[tuple[tuple[str, str], ...], list[float]] = defaultdict(lambda: [0.0] * (len(buckets) + 2))

    def observe(self, value: float, **labels: str) -> None:
        """Count one observation under ``labels``."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            cells = self._counts[key]
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    cells[index] += 1
            cells[-2] += value  # sum
            cells[-1] += 1  # count

    def samples(self, name: str) -> list[str]:
        """Exposition lines: cumulative buckets, sum and count per label set."""
        lines = []
        with self._lock:
            for key, cells in sorted(self._counts.items()):
                for index, bound in enumerate(self.buckets):
                    le = "+Inf" if math.isinf(bound) else repr(bound)
                    lines.append(f"{name}_bucket{labels_text(dict(key) | {'le': le})} {cells[index]:g}")
                lines.append(f"{name}_sum{labels_text(dict(key))} {cells[-2]:g}")
                lines.append(f"{name}_count{labels_text(dict(key))} {cells[-1]:g}")
        return lines


PROVIDER_LATENCY = Histogram()


def observe_provider_latency(provider: str, seconds: float, *, outcome: str = "ok") -> None:
    """Record one provider API call's duration (SendGrid, Twilio, the LLM)."""
    PROVIDER_LATENCY.observe(seconds, provider=provider, outcome=outcome)


