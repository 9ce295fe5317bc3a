"""Process-wide metrics the adapters feed: provider call latency (SendGrid, Twilio, the LLM).

A ``prometheus_client`` histogram in this process's own registry (``PROCESS_REGISTRY``, not the
library's global default, so tests and several apps in one process do not collide). The
``/metrics`` route (``retain.api.metrics``) renders it next to the stored totals.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))

PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
PROVIDER_LATENCY = Histogram("retain_provider_latency_seconds", "Provider API call duration.",
                             labelnames=("outcome", "provider"), buckets=LATENCY_BUCKETS, registry=PROCESS_REGISTRY)


def observe_provider_latency(provider: str, seconds: float, *, outcome: str = "ok") -> None:
    """Record one provider API call's duration (SendGrid, Twilio, the LLM)."""
    PROVIDER_LATENCY.labels(outcome=outcome, provider=provider).observe(seconds)


def provider_calls(provider: str, outcome: str) -> float:
    """How many calls of ``provider`` with ``outcome`` were timed since start (0 when none)."""
    value = PROCESS_REGISTRY.get_sample_value("retain_provider_latency_seconds_count",
                                              {"outcome": outcome, "provider": provider})
    return value or 0.0
