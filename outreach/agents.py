"""The outreach consumer: ``decisions`` topic -> one outbox row per engaging decision.

A thin shell around ``outreach.outbox.service.enqueue``: one aiokafka consumer group (every
runtime joins it, so partitions spread over them), database work in a worker thread, offsets
committed only after the rows are committed. Enqueueing is idempotent on the decision's
idempotency key, so a redelivered record (crash before the offset commit, rebalance, the same
decision published twice) creates nothing new. Only ``engage`` decisions are enqueued: a
``defer`` becomes an ``engage`` of its own when its quiet-hours job releases it (and is
re-checked for expiry, consent and caps then), so enqueueing the defer would skip that check.
A record that is not a valid decision, or whose insert fails on its own, goes to ``deadletter``
with the reason and the stream goes on; a database that is down or locked (``TRANSIENT``) is no
fault of the record: the batch is read again after a pause and its offsets stay uncommitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import IllegalStateError
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from outreach.outbox.service import enqueue
from infra.database import session_scope
from infra.stream_app import DEADLETTER, DECISIONS
from infra.deadletter import deadletter_key, deadletter_record, describe_error
from triggers.decision import Decision

log = logging.getLogger(__name__)

STAGE = "outreach.enqueue"
# Errors of the database, not of the record: retried, never dead-lettered.
TRANSIENT = (OperationalError, InterfaceError)


def utc_now() -> dt.datetime:
    """Wall-clock now, UTC-aware."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class EnqueueCounters:
    """What the consumer did since start."""

    received: int = 0
    enqueued: int = 0
    duplicates: int = 0
    skipped: Counter = field(default_factory=Counter)  # by outcome (defer, holdout, ...)
    deadletter: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-data snapshot."""
        return {"received": self.received, "enqueued": self.enqueued, "duplicates": self.duplicates,
                "skipped": dict(self.skipped), "deadletter": self.deadletter}


@dataclass(frozen=True)
class Poison:
    """A record that could not be enqueued, and why."""

    record: Any
    reason: str


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
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topic = topic
        self.deadletter_topic = deadletter_topic
        self.clock = clock
        self.counters = EnqueueCounters()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Join the group and consume in the background."""
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="outreach.decisions_to_outbox")

    async def stop(self) -> None:
        """Stop consuming (what was enqueued is committed) and close the clients."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=500)
            records = [r for batch in batches.values() for r in batch]
            if not records:
                continue
            try:
                poison = await asyncio.to_thread(self.store, records)
                for item in poison:
                    await self._deadletter(item)
            except Exception:  # noqa: BLE001 - e.g. the database is down: retry the batch, commit nothing
                log.exception("enqueueing %d decision record(s) failed; they will be read again", len(records))
                for tp, batch in batches.items():
                    with contextlib.suppress(IllegalStateError):  # revoked meanwhile: its new owner reads it
                        self._consumer.seek(tp, batch[0].offset)
                await asyncio.sleep(1.0)  # back off before re-reading; not a timing assumption
                continue
            try:
                await self._consumer.commit()
            except Exception:  # noqa: BLE001 - e.g. a rebalance: the records come again and dedup
                log.exception("committing decision offsets failed; the batch may be read again")

    def store(self, records: list[Any]) -> list[Poison]:
        """Enqueue a batch in one transaction (one by one when that fails); returns the poison records."""
        now = self.clock()
        parsed: list[tuple[Any, Decision]] = []
        poison: list[Poison] = []
        for record in records:
            self.counters.received += 1
            try:
                decision = parse_decision(record.value)
            except Exception as exc:  # noqa: BLE001 - not a decision: deadletter with the reason
                poison.append(Poison(record, describe_error(exc)))
                continue
            outcome = decision.outcome.value
            if outcome != "engage":
                self.counters.skipped[outcome] += 1
            else:
                parsed.append((record, decision))
        if not parsed:
            return poison
        try:
            self._enqueue([d for _, d in parsed], now)
        except TRANSIENT:
            raise  # the database is down or locked: the whole batch is read again, nothing is lost
        except Exception:  # noqa: BLE001 - isolate the bad one
            for record, decision in parsed:
                try:
                    self._enqueue([decision], now)
                except TRANSIENT:
                    raise
                except Exception as exc:  # noqa: BLE001 - this decision itself is bad: deadletter it
                    log.exception("enqueueing decision %s failed", decision.decision_id)
                    poison.append(Poison(record, describe_error(exc)))
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

    async def _deadletter(self, item: Poison) -> None:
        assert self._producer is not None
        record = item.record
        value = deadletter_record(raw=record.value, reason=item.reason, stage=STAGE, topic=record.topic,
                                  partition=record.partition, offset=record.offset, key=record.key, now=self.clock())
        await self._producer.send_and_wait(self.deadletter_topic, json.dumps(value).encode(),
                                          key=deadletter_key(record.key))
        self.counters.deadletter += 1
        log.warning("deadletter %s[%s]@%s: %s", record.topic, record.partition, record.offset, item.reason)


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
