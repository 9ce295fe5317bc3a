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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import faust

if TYPE_CHECKING:
    from retain.settings import Settings

EVENTS = "events"
SIGNALS = "signals"
DEADLETTER = "deadletter"
DECISIONS = "decisions"
CONSENT = "consent"
TOPIC_NAMES: tuple[str, ...] = (EVENTS, SIGNALS, DEADLETTER, DECISIONS, CONSENT)


@dataclass(frozen=True)
class Topics:
    """The topics of one app (Faust ``TopicT`` objects)."""

    events: Any
    signals: Any
    deadletter: Any
    decisions: Any
    consent: Any


def create_app(
    settings: "Settings",
    *,
    broker_url: str,
    app_id: str | None = None,
    web_port: int | None = None,
    **overrides: Any,
) -> faust.App:
    """A Faust app for ``settings`` on ``broker_url`` (``kafka://host:port``); topics in ``app.retain_topics``."""
    port = web_port if web_port is not None else settings.worker_web_port
    config: dict[str, Any] = dict(
        broker=broker_url,
        store="memory://",  # tables are rebuilt from their changelog topics on assignment
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        # A standby replica doubles changelog reads for no gain on a single-broker setup;
        # failover recovers from the changelog (see docs/streaming.md).
        table_standby_replicas=0,
        web_enabled=port is not None,
        web_port=port or 6066,
        web_bind="127.0.0.1",
        # Failure detection: a worker that dies without LeaveGroup is evicted after the session
        # timeout. Faust's default (60 s) makes failover slow; 10 s with 1 s heartbeats is plenty
        # on loopback. request timeout must exceed the session timeout (aiokafka requirement).
        broker_session_timeout=settings.stream_session_timeout_seconds,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=settings.stream_session_timeout_seconds,
        broker_request_timeout=max(30.0, settings.stream_session_timeout_seconds * 3),
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=4096,
        stream_wait_empty=True,
        producer_acks=-1,
        producer_linger_ms=5,
        consumer_auto_offset_reset="earliest",
        worker_redirect_stdouts=False,
        key_serializer="raw",
        value_serializer="json",
    )
    config.update(overrides)
    app = faust.App(app_id or settings.app_id, **config)
    app.retain_topics = Topics(
        events=app.topic(EVENTS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        signals=app.topic(SIGNALS, key_serializer="raw", value_serializer="json"),
        deadletter=app.topic(DEADLETTER, key_serializer="raw", value_serializer="json"),
        decisions=app.topic(DECISIONS, key_serializer="raw", value_serializer="json"),
        consent=app.topic(CONSENT, key_serializer="raw", value_serializer="json"),
    )
    return app


def topics_of(app: faust.App) -> Topics:
    """The retain topics of an app made by ``create_app``."""
    return app.retain_topics


def topic_partitions(settings: "Settings") -> dict[str, int]:
    """``{topic: partitions}`` for ``retain.broker.ensure_topics`` (all co-partitioned)."""
    return {name: settings.topic_partitions for name in TOPIC_NAMES}
