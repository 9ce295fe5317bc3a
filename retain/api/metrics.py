"""``/metrics`` in the Prometheus text format (version 0.0.4), every name prefixed ``retain_``.

Written by hand (the format is a few lines of text; no client library needed). Stored totals
(signals, decisions by outcome, sends by channel and status, provider events) are counted from the
database at scrape time; process counters (events, dead-letters) and consumer lag come from
callables the runtime puts on ``app.state`` (``counters``, ``consumer_lag``); provider call
latency is a histogram that the channel adapters feed through ``observe_provider_latency``.
When ``RETAIN_METRICS_TOKEN`` is set, scrapes must send it as a bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
from typing import Any, Iterable, Mapping

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import Engine, func, select

from infra.metrics import PROVIDER_LATENCY, labels_text

router = APIRouter(tags=["observability"])
log = logging.getLogger(__name__)
SOURCE_TIMEOUT_SECONDS = 5.0  # a scrape waits at most this long for the broker's offsets

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, Any], float]]) -> list[str]:
    """One metric family: HELP, TYPE and a line per labelled sample."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels_text(labels)} {value:g}" for labels, value in samples]
    return lines


def _grouped(engine: Engine, *columns: Any) -> list[tuple[dict[str, Any], float]]:
    with engine.connect() as connection:
        rows = connection.execute(select(*columns, func.count()).group_by(*columns)).all()
    return [({c.key: v for c, v in zip(columns, row[:-1])}, row[-1]) for row in rows]


def database_families(engine: Engine) -> list[str]:
    """Totals counted from the stored rows (blocking: call in a thread)."""
    from outreach.outbox.records import DeliveryEventRecord, OutboxRecord
    from signals.records import SignalRecord
    from triggers.records import DecisionRecord

    lines = family("retain_signals_total", "counter", "Signals stored, by kind.", _grouped(engine, SignalRecord.kind))
    lines += family("retain_decisions_total", "counter", "Decisions stored, by outcome.",
                    _grouped(engine, DecisionRecord.outcome))
    sends = [({"channel": labels["channel"], "status": labels["state"]}, value)
             for labels, value in _grouped(engine, OutboxRecord.channel, OutboxRecord.state)]
    lines += family("retain_sends_total", "counter", "Outbox messages by channel and status.", sends)
    lines += family("retain_delivery_events_total", "counter", "Provider delivery events by provider and kind.",
                    _grouped(engine, DeliveryEventRecord.provider, DeliveryEventRecord.kind))
    return lines + conversation_families(engine)


def conversation_families(engine: Engine) -> list[str]:
    """Customers' replies: conversations by intent and status, share answered and time to first answer per rule."""
    from sqlmodel import Session

    from outreach.conversations.measures_store import measures_since
    from outreach.conversations.records import ConversationRecord

    lines = family("retain_conversations_total", "counter", "Conversations opened by customers' replies, by intent "
                   "and status.", _grouped(engine, ConversationRecord.intent, ConversationRecord.status))
    with Session(engine) as session:
        measures = measures_since(session=session)
    lines += family("retain_replies_answered_ratio", "gauge", "Share of conversations a person answered, per rule.",
                    [({"rule_id": m.rule_id}, m.share_answered or 0.0) for m in measures])
    lines += ["# HELP retain_first_human_answer_seconds Time from a customer's first reply to the first human "
              "answer, per rule.", "# TYPE retain_first_human_answer_seconds summary"]
    for m in measures:
        labels = {"rule_id": m.rule_id}
        if m.median_seconds is not None:
            lines.append(f"retain_first_human_answer_seconds{labels_text({**labels, 'quantile': '0.5'})} "
                         f"{m.median_seconds:g}")
        lines.append(f"retain_first_human_answer_seconds_sum{labels_text(labels)} {sum(m.answer_seconds):g}")
        lines.append(f"retain_first_human_answer_seconds_count{labels_text(labels)} {m.answered:g}")
    return lines


def render_metrics(*, counters: Mapping[str, Any] | None, lag: Mapping[tuple[str, int], int] | None,
                   database: list[str]) -> str:
    """The whole exposition text."""
    counters = counters or {}
    lines = [*database]
    lines += family("retain_events_total", "counter", "Events consumed by this process since start.",
                    [({}, counters.get("events", 0))])
    lines += family("retain_deadletter_total", "counter", "Records sent to the deadletter topic since start.",
                    [({}, counters.get("deadletter", 0))])
    lines += family("retain_consumer_lag", "gauge", "Records behind the end of each partition.",
                    [({"topic": t, "partition": p}, n) for (t, p), n in sorted((lag or {}).items())])
    lines += ["# HELP retain_provider_latency_seconds Provider API call duration.",
              "# TYPE retain_provider_latency_seconds histogram", *PROVIDER_LATENCY.samples("retain_provider_latency_seconds")]
    return "\n".join(lines) + "\n"


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


async def _call(state: Any, name: str) -> Any:
    source = getattr(state, name, None)
    if not callable(source):
        return None
    value = source()
    if inspect.isawaitable(value):
        try:
            return await asyncio.wait_for(value, SOURCE_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - a slow or absent broker must not break the scrape
            log.warning("metrics source %s failed: %s", name, type(exc).__name__)
            return None
    return value


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics (text format 0.0.4)."""
    settings = request.app.state.settings
    token = getattr(settings, "metrics_token", None)
    if token is not None:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent, token.get_secret_value()):
            raise HTTPException(401, "send the metrics token as a bearer token", headers={"WWW-Authenticate": "Bearer"})
    engine = request.app.state.engine
    database = await asyncio.to_thread(database_families, engine) if engine is not None else []
    text = render_metrics(counters=await _call(request.app.state, "counters"),
                          lag=await _call(request.app.state, "consumer_lag"), database=database)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
