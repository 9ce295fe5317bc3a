"""``/metrics`` families: retain_ names, Health as gauges, a failed source said, not fatal."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from infra.health import Health
from infra.metrics import observe_provider_latency, provider_calls
from retain.api.metrics import broker_families, process_families, render_metrics

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _render(**overrides) -> str:
    families = process_families(counters={"events": 5, "deadletter": 1}, health=overrides.get("health"),
                                local_lag={("retain-projection", "events", 0): 3})
    families += broker_families({("retain", "events", 0): 7})
    up = overrides.get("up", {"database": True, "broker": True, "process": True})
    return render_metrics(families, up).decode()


def test_every_metric_is_prefixed_typed_and_parseable():
    text = _render()
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert names and all(name.startswith("retain_") for name in names)
    samples = _samples(text)
    assert samples[("retain_events_total", ())] == 5
    assert samples[("retain_deadletter_total", ())] == 1
    assert samples[("retain_consumer_lag", (("group", "retain"), ("partition", "0"), ("topic", "events")))] == 7
    assert samples[("retain_consumer_loop_lag", (("group", "retain-projection"), ("partition", "0"),
                                                 ("topic", "events")))] == 3


def test_each_health_component_is_a_gauge_with_status_and_restarts():
    health = Health(clock=lambda: T0)
    health.register("signals.projection").ok()
    crashed = health.register("outreach.enqueue")
    crashed.failed("crashed: RuntimeError")
    crashed.restarted()
    health.register("triggers.decide").degraded("waiting for the database")
    samples = _samples(_render(health=health))
    up = {labels[0][1]: v for (name, labels), v in samples.items() if name == "retain_component_up"}
    assert up == {"signals.projection": 1, "outreach.enqueue": 0, "triggers.decide": 0}
    assert samples[("retain_component_status", (("component", "triggers.decide"), ("status", "degraded")))] == 1
    assert samples[("retain_component_status", (("component", "triggers.decide"), ("status", "ok")))] == 0
    assert samples[("retain_component_restarts_total", (("component", "outreach.enqueue"),))] == 1
    assert samples[("retain_component_failures_total", (("component", "outreach.enqueue"),))] == 1


def test_a_source_that_failed_is_named_and_the_rest_still_rendered():
    text = _render(up={"database": False, "broker": True, "process": True})
    samples = _samples(text)
    assert samples[("retain_metrics_source_up", (("source", "database"),))] == 0
    assert samples[("retain_metrics_source_up", (("source", "broker"),))] == 1
    assert samples[("retain_events_total", ())] == 5


def test_provider_latency_is_a_histogram_in_the_process_registry():
    before = provider_calls("unit-test-provider", "ok")
    observe_provider_latency("unit-test-provider", 0.07)
    assert provider_calls("unit-test-provider", "ok") == before + 1
    samples = _samples(_render())
    bucket = ("retain_provider_latency_seconds_bucket", (("le", "0.1"), ("outcome", "ok"),
                                                         ("provider", "unit-test-provider")))
    assert samples[bucket] == before + 1
