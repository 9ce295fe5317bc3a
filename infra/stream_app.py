"""The Faust app factory and retain's topics.

``create_app(settings, broker_url=...)`` returns a configured ``faust.App`` whose topics are at
``app.retain_topics`` (``topics_of(app)``). Agents are registered separately
(``signals.agents.register_signal_agents``) so other stages can add theirs to the same app.

Every topic is keyed by ``customer_id`` (raw UTF-8 key), so one customer's events, signals and
decisions stay in order on one partition. ``events`` is read as raw bytes: the agent parses it
itself, so a payload that is not even JSON still reaches the dead-letter topic instead of being
dropped by Faust's deserializer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import faust
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery

from infra.stream_consumer import RetainApp

if TYPE_CHECKING:
    from infra.settings import Settings

EVENTS = "events"
SIGNALS = "signals"
DEADLETTER = "deadletter"
DECISIONS = "decisions"
CONSENT = "consent"
QUARANTINE = "quarantine"  # customers whose stream state was set aside, and their release
TOPIC_NAMES: tuple[str, ...] = (EVENTS, SIGNALS, DEADLETTER, DECISIONS, CONSENT, QUARANTINE)


@dataclass(frozen=True)
class Topics:
    """The topics of one app (Faust ``TopicT`` objects)."""

    events: Any
    signals: Any
    deadletter: Any
    decisions: Any
    consent: Any
    quarantine: Any


def create_app(
    settings: "Settings",
    *,
    broker_url: str,
    app_id: str | None = None,
    web_port: int | None = None,
    app_type: type[faust.App] = RetainApp,
    **overrides: Any,
) -> faust.App:
    """A Faust app for ``settings`` on ``broker_url`` (``kafka://host:port``); topics in ``app.retain_topics``.

    ``app_type`` is ``RetainApp`` (Faust with eager record delivery, ``infra.stream_consumer``);
    the benchmark passes ``faust.App`` to measure stock Faust beside it.
    """
    port = web_port if web_port is not None else settings.worker_web_port
    config: dict[str, Any] = dict(
        broker=broker_url,
        store="memory://",  # tables are rebuilt from their changelog topics on assignment
        # Faust still makes a directory per table; its default ("<app id>-data") is relative to
        # the working directory, so workers started from a checkout littered it.
        datadir=str(_stream_dir(settings) / (app_id or settings.app_id)),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        # A standby replica doubles changelog reads for no gain on a single-broker setup;
        # failover recovers from the changelog (see docs/streaming.md).
        table_standby_replicas=0,
        web_enabled=port is not None,
        web_port=port or 6066,
        web_bind="127.0.0.1",
        # Failure detection: a worker that dies without LeaveGroup is evicted after the session
        # timeout, and Tansu holds each JoinGroup for ~rebalance_timeout/2. Faust's defaults
        # (60 s + 60 s) make a failover take >= 90 s (docs/streaming.md); 10 s each with 1 s
        # heartbeats is plenty on loopback. The request timeout must exceed both (aiokafka).
        broker_session_timeout=settings.stream_session_timeout_seconds,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=settings.stream_rebalance_timeout_seconds,
        broker_request_timeout=max(30.0, 3 * settings.stream_session_timeout_seconds,
                                   3 * settings.stream_rebalance_timeout_seconds),
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=4096,
        stream_wait_empty=True,
        producer_acks=-1,
        producer_linger=0.005,
        # State records are ~2 KB: the 16 KB default batch means a produce request per 8 writes.
        producer_max_batch_size=512 * 1024,
        producer_max_request_size=4 * 1024 * 1024,
        consumer_auto_offset_reset="earliest",
        worker_redirect_stdouts=False,
        key_serializer="raw",
        value_serializer="json",
    )
    config.setdefault("TableManager", TrueEndTableManager)
    config.update(overrides)
    app = app_type(app_id or settings.app_id, **config)
    app.retain_topics = Topics(
        events=app.topic(EVENTS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        signals=app.topic(SIGNALS, key_serializer="raw", value_serializer="json"),
        deadletter=app.topic(DEADLETTER, key_serializer="raw", value_serializer="json"),
        decisions=app.topic(DECISIONS, key_serializer="raw", value_serializer="json"),
        consent=app.topic(CONSENT, key_serializer="raw", value_serializer="json"),
        quarantine=app.topic(QUARANTINE, key_serializer="raw", value_serializer="json"),
    )
    return app


def _stream_dir(settings: "Settings") -> Path:
    """Where Faust makes its per-app directory (it creates only the last level itself)."""
    path = Path(settings.data_dir) / "stream"
    path.mkdir(parents=True, exist_ok=True)
    return path


def topics_of(app: faust.App) -> Topics:
    """The retain topics of an app made by ``create_app``."""
    return app.retain_topics


def topic_partitions(settings: "Settings") -> dict[str, int]:
    """``{topic: partitions}`` for ``infra.broker.ensure_topics`` (all co-partitioned)."""
    return {name: settings.topic_partitions for name in TOPIC_NAMES}


async def true_end_offsets(bootstrap: str, reported: Mapping[Any, int | None], *, timeout: float = 10.0) -> dict[Any, int | None]:
    """End offsets corrected for brokers that report the last *batch's* base offset + 1.

    Tansu 0.6 answers ListOffsets(latest) with ``base_offset + 1`` of the last record batch, so a
    batch of 10 records at offset 0 reads as end offset 1 (docs/streaming.md). Reading the batch
    at ``reported - 1`` gives its last offset: the true end is that + 1. Exact on a correct broker
    too (the batch at end - 1 holds one record: end - 1 itself).
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    probe = {TopicPartition(tp.topic, tp.partition): (tp, end) for tp, end in reported.items() if end}
    result: dict[Any, int | None] = dict(reported)
    if not probe:
        return result
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign(list(probe))
        for ktp, (_, end) in probe.items():
            consumer.seek(ktp, end - 1)
        pending = set(probe)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for ktp, records in batch.items():
                if records:
                    tp, end = probe[ktp]
                    result[tp] = max(end, records[-1].offset + 1)
                    pending.discard(ktp)
                    consumer.pause(ktp)  # one batch is all we need
    finally:
        await consumer.stop()
    return result


class TrueEndRecovery(Recovery):
    """Faust's table recovery, with changelog highwaters from ``true_end_offsets``."""

    async def _build_highwaters(self, consumer: Any, tps: Any, destination: Any, title: str) -> None:
        # Without this, recovery on Tansu stops at the first record of each changelog partition's
        # last batch and a survivor resumes from stale state (duplicate signals after failover).
        reported = await consumer.highwaters(*tps)
        url = self.app.conf.broker[0]
        ends = await true_end_offsets(f"{url.host}:{url.port or 9092}", reported)
        # Faust stores "last offset", not "next offset" (its own "-1" FIXME kept as is).
        highwaters = {tp: end - 1 if end is not None else -1 for tp, end in ends.items()}
        self.log.info("Highwater for %s changelog partitions:\n%s", title, self._highwater_logtable(highwaters, title=title))
        destination.clear()
        destination.update(highwaters)


class TrueEndTableManager(TableManager):
    """The table manager whose recovery uses ``TrueEndRecovery``."""

    @property
    def recovery(self) -> Recovery:
        """Recovery service used by this table manager."""
        if self._recovery is None:
            self._recovery = TrueEndRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
