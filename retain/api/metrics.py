"""``/metrics`` in the Prometheus text format (version 0.0.4), every name prefixed ``retain_``.

Rendered by ``prometheus_client``. Each scrape gathers three sources, each bounded in time and
each allowed to fail on its own: ``database`` (stored totals: signals, decisions by outcome, sends
by channel and status, provider events), ``broker`` (the stream worker's consumer lag from its
committed offsets) and ``process`` (stream counters, the consumer loops' own lag, every ``Health``
component with its status, restarts and failures, and the provider latency histogram fed by the
channel adapters). A source that does not answer is left out and ``retain_metrics_source_up``
says which: the scrape itself answers 200 with what it has, so an outage is visible, not a gap.
The callables come from ``app.state`` (``engine``, ``counters``, ``consumer_lag``, ``local_lag``,
``health``). When ``RETAIN_METRICS_TOKEN`` is set, scrapes must send it as a bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine, func, select

from infra.health import OK, Health
from infra.metrics import PROCESS_REGISTRY

router = APIRouter(tags=["observability"])
log = logging.getLogger(__name__)
SOURCE_TIMEOUT_SECONDS = 5.0  # a scrape waits at most this long for each source
SOURCES = ("database", "broker", "process")
STATUSES = ("starting", "ok", "degraded", "failed", "stale")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _family(metric: Any, labels: list[str], samples: Iterable[tuple[Mapping[str, Any], float]]) -> Any:
    for values, number in samples:
        metric.add_metric([str(values[n]) for n in labels], number)
    return metric


def counter(name: str, help_text: str, labels: Iterable[str],
            samples: Iterable[tuple[Mapping[str, Any], float]]) -> CounterMetricFamily:
    """A counter family from ``({label: value}, number)`` pairs."""
    return _family(CounterMetricFamily(name, help_text, labels=list(labels)), list(labels), samples)


def gauge(name: str, help_text: str, labels: Iterable[str],
          samples: Iterable[tuple[Mapping[str, Any], float]]) -> GaugeMetricFamily:
    """A gauge family from ``({label: value}, number)`` pairs."""
    return _family(GaugeMetricFamily(name, help_text, labels=list(labels)), list(labels), samples)


def _grouped(engine: Engine, *columns: Any) -> list[tuple[dict[str, Any], float]]:
    with engine.connect() as connection:
        rows = connection.execute(select(*columns, func.count()).group_by(*columns)).all()
    return [({c.key: v for c, v in zip(columns, row[:-1])}, row[-1]) for row in rows]


def database_families(engine: Engine) -> list[Metric]:
    """Totals counted from the stored rows (blocking: call in a thread)."""
    from outreach.outbox.records import DeliveryEventRecord, OutboxRecord
    from signals.records import SignalRecord
    from triggers.records import DecisionRecord

    sends = [({"channel": labels["channel"], "status": labels["state"]}, value)
             for labels, value in _grouped(engine, OutboxRecord.channel, OutboxRecord.state)]
    return [
        counter("retain_signals_total", "Signals stored, by kind.", ["kind"], _grouped(engine, SignalRecord.kind)),
        counter("retain_decisions_total", "Decisions stored, by outcome.", ["outcome"],
                _grouped(engine, DecisionRecord.outcome)),
        counter("retain_sends_total", "Outbox messages by channel and status.", ["channel", "status"], sends),
        counter("retain_delivery_events_total", "Provider delivery events by provider and kind.", ["provider", "kind"],
                _grouped(engine, DeliveryEventRecord.provider, DeliveryEventRecord.kind)),
    ]


def process_families(*, counters: Mapping[str, Any] | None, health: Health | None,
                     local_lag: Mapping[tuple[str, str, int], int] | None) -> list[Metric]:
    """This process's own view: stream counters, the consumer loops' lag, every Health component."""
    counters = counters or {}
    families: list[Metric] = [
        counter("retain_events_total", "Events consumed by this process since start.", [],
                [({}, counters.get("events", 0))]),
        counter("retain_deadletter_total", "Records sent to the deadletter topic since start.", [],
                [({}, counters.get("deadletter", 0))]),
    ]
    families.append(_lag("retain_consumer_loop_lag", "Records left to read by this process's consumer loops.",
                         local_lag))
    snapshot = health.snapshot() if health is not None else {}
    families += [
        gauge("retain_component_up", "1 when a background part reports ok, else 0.", ["component"],
              [({"component": name}, float(state["status"] == OK)) for name, state in snapshot.items()]),
        gauge("retain_component_status", "1 for the status each background part reports now.",
              ["component", "status"],
              [({"component": name, "status": status}, float(state["status"] == status))
               for name, state in snapshot.items() for status in STATUSES]),
        counter("retain_component_restarts_total", "Restarts of each background part by its supervisor.",
                ["component"], [({"component": name}, state["restarts"]) for name, state in snapshot.items()]),
        counter("retain_component_failures_total", "Failures reported by each background part.", ["component"],
                [({"component": name}, state["failures"]) for name, state in snapshot.items()]),
    ]
    return families


def _lag(name: str, help_text: str, lag: Mapping[tuple[str, str, int], int] | None) -> GaugeMetricFamily:
    return gauge(name, help_text, ["group", "topic", "partition"],
                 [({"group": g, "topic": t, "partition": p}, n) for (g, t, p), n in sorted((lag or {}).items())])


def broker_families(lag: Mapping[tuple[str, str, int], int] | None) -> list[Metric]:
    """The stream worker's consumer lag from its committed offsets."""
    return [_lag("retain_consumer_lag", "Records behind the end of each partition.", lag)]


class _Families:
    """A collector that yields families gathered for one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def render_metrics(families: list[Metric], up: Mapping[str, bool]) -> bytes:
    """The whole exposition text: the gathered families, which sources answered, the process registry."""
    registry = CollectorRegistry(auto_describe=False)
    source_up = gauge("retain_metrics_source_up", "1 when the source answered this scrape, 0 when it failed.",
                      ["source"], [({"source": source}, float(up.get(source, False))) for source in SOURCES])
    registry.register(_Families([*families, source_up]))
    return generate_latest(registry) + generate_latest(PROCESS_REGISTRY)


def lag_of(committed: Mapping[Any, int | None], ends: Mapping[Any, int | None]) -> dict[tuple[str, int], int]:
    """Records behind per (topic, partition): end offset minus committed offset, never below 0."""
    lag = {}
    for tp, end in ends.items():
        position = committed.get(tp)
        lag[(tp.topic, tp.partition)] = max((end or 0) - (position if position is not None and position >= 0 else 0), 0)
    return lag


async def kafka_consumer_lag(bootstrap: str, group_id: str, topics: Mapping[str, int]) -> dict[tuple[str, int], int]:
    """The consumer group's lag on every partition of ``topics`` ({name: partitions}) it committed offsets for.

    Committed offsets are read with a consumer that names the group but never joins it (OffsetFetch
    only), so the scrape cannot trigger a rebalance; the embedded broker does not answer the admin
    client's OffsetFetch, which is why this does not use it.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from infra.stream_app import true_end_offsets

    partitions = [TopicPartition(topic, p) for topic, count in topics.items() for p in range(count)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        committed = {tp: await consumer.committed(tp) for tp in partitions}
        committed = {tp: offset for tp, offset in committed.items() if offset is not None}
        reported = await consumer.end_offsets(list(committed)) if committed else {}
    finally:
        await consumer.stop()
    if not committed:
        return {}
    # The embedded broker reports the last batch's base offset + 1 as the end; correct it first.
    return lag_of(committed, await true_end_offsets(bootstrap, reported))


async def _source(name: str, gather: Callable[[], Any]) -> tuple[list[Metric], bool]:
    """Run one source's gathering, bounded in time; ``([], False)`` when it fails."""
    try:
        value = gather()
        if inspect.isawaitable(value):
            value = await asyncio.wait_for(value, SOURCE_TIMEOUT_SECONDS)
        return value, True
    except Exception as exc:  # noqa: BLE001 - a slow or absent source must not break the scrape
        log.warning("metrics source %s failed: %s", name, type(exc).__name__)
        return [], False


def _state_call(state: Any, name: str) -> Any:
    source = getattr(state, name, None)
    return source() if callable(source) else None


async def _broker(state: Any) -> list[Metric]:
    lag = _state_call(state, "consumer_lag")
    if inspect.isawaitable(lag):
        lag = await lag
    return broker_families(lag)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics (text format 0.0.4); 200 with ``retain_metrics_source_up`` even when a source fails."""
    state = request.app.state
    token = getattr(state.settings, "metrics_token", None)
    if token is not None:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent, token.get_secret_value()):
            raise HTTPException(401, "send the metrics token as a bearer token", headers={"WWW-Authenticate": "Bearer"})
    engine = getattr(state, "engine", None)
    gathered = await asyncio.gather(
        _source("database", lambda: asyncio.to_thread(database_families, engine) if engine is not None else []),
        _source("broker", lambda: _broker(state)),
        _source("process", lambda: process_families(counters=_state_call(state, "counters"),
                                                    health=getattr(state, "health", None),
                                                    local_lag=_state_call(state, "local_lag"))),
    )
    families = [family for found, _ in gathered for family in found]
    up = {name: ok for name, (_, ok) in zip(SOURCES, gathered)}
    return Response(render_metrics(families, up), media_type=CONTENT_TYPE)
