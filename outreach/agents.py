"""The outreach consumer: ``decisions`` topic -> one outbox row per engaging decision.

A thin ``store`` for ``infra.topic_consumer.TopicConsumer`` (one consumer group that every
runtime joins, so partitions spread over them; database work in a worker thread; offsets
committed only after the rows are). Enqueueing is idempotent on the decision's idempotency key,
so a redelivered record (crash before the offset commit, rebalance, a batch read again after a
database outage, the same decision published twice) creates nothing new. Only ``engage``
decisions are enqueued: a ``defer`` becomes an ``engage`` of its own when its quiet-hours job
releases it (and is re-checked for expiry, consent and caps then), so enqueueing the defer would
skip that check. A record that is not a valid decision, or whose insert fails on its own, goes
to ``deadletter`` with the reason; a database that is down or locked is no fault of the record:
the consumer pauses, reports ``degraded`` and reads the batch again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine

from infra.database import session_scope
from infra.deadletter import describe_error
from infra.health import Reporter
from infra.stream_app import DEADLETTER, DECISIONS
from infra.topic_consumer import ConsumerCounters, Poison, TopicConsumer, utc_now
from outreach.outbox.service import enqueue
from triggers.decision import Decision

STAGE = "outreach.enqueue"


@dataclass
class EnqueueCounters:
    """What the consumer did since start (records read and dead-lettered come from its loop)."""

    loop: ConsumerCounters = field(default_factory=ConsumerCounters)
    enqueued: int = 0
    duplicates: int = 0
    skipped: Counter = field(default_factory=Counter)  # by outcome (defer, holdout, ...)

    @property
    def received(self) -> int:
        """Records whose batch was stored and committed, poison included (a batch read again counts once)."""
        return self.loop.consumed

    @property
    def deadletter(self) -> int:
        """Records sent to deadletter."""
        return self.loop.deadletter

    def as_dict(self) -> dict[str, Any]:
        """Plain-data snapshot."""
        return {"received": self.received, "enqueued": self.enqueued, "duplicates": self.duplicates,
                "skipped": dict(self.skipped), "deadletter": self.deadletter}


def parse_decision(raw: bytes | str | None) -> Decision:
    """The decision in a ``decisions`` record (``ValueError``/``ValidationError`` when it is none)."""
    if raw is None:
        raise ValueError("empty record")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a decision must be a JSON object")
    return Decision.from_dict(data)


class DecisionsToOutbox:
    """Consume ``decisions`` and enqueue the engaging ones; ``counters`` says what happened."""

    def __init__(self, engine: Engine, bootstrap: str, *, group_id: str = "retain-outreach",
                 topic: str = DECISIONS, deadletter_topic: str = DEADLETTER,
                 clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self.consumer = TopicConsumer(topics=[topic], bootstrap=bootstrap, group_id=group_id, store=self.store,
                                      stage=STAGE, deadletter_topic=deadletter_topic, clock=clock)
        self.counters = EnqueueCounters(loop=self.consumer.counters)

    async def run(self, reporter: Reporter) -> None:
        """Consume until cancelled (run it under ``infra.supervisor.Supervisor``)."""
        await self.consumer.run(reporter)

    def store(self, records: list[Any]) -> list[Poison]:
        """Enqueue a batch's engaging decisions in one transaction; returns the records that are not decisions.

        Raises when the transaction fails: the consumer retries a transient error and stores the
        batch one record at a time otherwise, so only the bad record is dead-lettered.
        """
        decisions: list[Decision] = []
        poison: list[Poison] = []
        skipped: Counter[str] = Counter()
        for record in records:
            try:
                decision = parse_decision(record.value)
            except Exception as exc:  # noqa: BLE001 - not a decision: deadletter with the reason
                poison.append(Poison(record, describe_error(exc)))
                continue
            if decision.outcome.value == "engage":
                decisions.append(decision)
            else:
                skipped[decision.outcome.value] += 1
        if decisions:
            self._enqueue(decisions, self.clock())
        self.counters.skipped.update(skipped)
        return poison

    def _enqueue(self, decisions: list[Decision], now: dt.datetime) -> None:
        created = duplicates = 0
        with session_scope(self.engine) as session:
            for decision in decisions:
                if enqueue(session=session, decision=decision, now=now) is None:
                    duplicates += 1
                else:
                    created += 1
            session.commit()
        self.counters.enqueued += created
        self.counters.duplicates += duplicates


class DecisionPublisher:
    """Publishes decisions to the ``decisions`` topic (the quiet-hours release jobs use it)."""

    def __init__(self, bootstrap: str, topic: str = DECISIONS) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect the producer."""
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and close."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def __call__(self, decision: Decision) -> None:
        """Send one decision keyed by customer id and wait for the broker's acknowledgement."""
        if self._producer is None:
            raise RuntimeError("DecisionPublisher not started")
        await self._producer.send_and_wait(self.topic, json.dumps(decision.to_dict()).encode(),
                                           key=decision.customer_id.encode())
