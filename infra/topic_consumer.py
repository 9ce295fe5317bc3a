"""The one way to consume a topic outside Faust: read a batch, store it durably, then commit.

``TopicConsumer(...).run(reporter)`` is a loop for a ``Supervisor``: it joins a consumer group,
and for every batch from ``getmany`` calls ``store(records)`` in a worker thread (SQLAlchemy is
synchronous). ``store`` writes idempotently and commits its own transaction; it returns the
records that are poison (``Poison``: the record and why) and raises when the batch could not be
stored. Only after that are the poison records published to ``deadletter`` and the batch's
offsets committed, so a crash anywhere before re-reads the batch and changes nothing.

What a failure means decides what happens:

- a transient error (``infra.transient``: database down or locked, broker unavailable) is no
  record's fault. The loop reports ``degraded``, seeks every partition of the batch back to its
  first record, waits (capped exponential backoff) and reads the batch again, until it is stored;
  then it reports ``ok``. Nothing is dead-lettered and nothing is committed meanwhile.
- any other error from ``store`` is some record's fault: the batch is stored again one record
  at a time, and only the record that fails on its own is dead-lettered, with the reason.
- an error of the loop itself propagates: the supervisor logs it, counts it and restarts the
  loop, which resumes from the last committed offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from infra.backoff import Backoff
from infra.deadletter import deadletter_key, deadletter_record, describe_error
from infra.health import Reporter
from infra.stream_app import DEADLETTER
from infra.transient import is_transient

log = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """Wall-clock now, UTC-aware."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class Poison:
    """A record that cannot be stored, and why."""

    record: Any
    reason: str


Store = Callable[[list[Any]], Sequence[Poison]]


@dataclass
class ConsumerCounters:
    """What the loop did since start."""

    consumed: int = 0  # records whose batch was stored and committed
    deadletter: int = 0
    retries: int = 0  # batches read again after a transient error
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # records behind, by (topic, partition)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data snapshot (lag as ``topic[partition]`` keys)."""
        return {"consumed": self.consumed, "deadletter": self.deadletter, "retries": self.retries,
                "lag": {f"{t}[{p}]": n for (t, p), n in sorted(self.lag.items())}}


class TopicConsumer:
    """One consumer group on ``topics``, storing each batch with ``store`` before committing it."""

    def __init__(
        self, *, topics: Sequence[str], bootstrap: str, group_id: str, store: Store, stage: str,
        deadletter_topic: str = DEADLETTER, max_records: int = 500, poll_ms: int = 500,
        backoff: Backoff | None = None, clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.topics = list(topics)
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.store = store
        self.stage = stage  # names the stage in dead-letter records
        self.deadletter_topic = deadletter_topic
        self.max_records = max_records
        self.poll_ms = poll_ms
        self.backoff = backoff or Backoff(base=0.5, cap=30.0)
        self.clock = clock
        self.counters = ConsumerCounters()

    async def run(self, reporter: Reporter) -> None:
        """Consume until cancelled (the supervisor's ``run``)."""
        consumer = AIOKafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap, group_id=self.group_id,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        try:
            await consumer.start()
            await producer.start()
            reporter.ok()
            while True:
                batches = await consumer.getmany(timeout_ms=self.poll_ms, max_records=self.max_records)
                reporter.beat()
                await self._note_lag(consumer)
                if any(batches.values()):
                    await self._consume(consumer, producer, batches, reporter)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                       batches: dict[TopicPartition, list[Any]], reporter: Reporter) -> None:
        records = [record for batch in batches.values() for record in batch]
        try:
            poison = await self._store(records)
            for item in poison:
                await self._deadletter(producer, item)
            await consumer.commit({tp: batch[-1].offset + 1 for tp, batch in batches.items() if batch})
        except CommitFailedError as exc:  # a rebalance took the partitions: their new owner re-reads, dedups
            log.warning("%s: committing offsets failed (%s); the batch may be read again", self.stage, exc)
        except Exception as exc:
            if not is_transient(exc):
                raise  # the loop's own fault: the supervisor logs it and restarts from the last commit
            await self._pause(consumer, batches, reporter, exc)
            return
        else:
            self.counters.consumed += len(records)
        if self.backoff.failures:
            log.info("%s: stored again after %d failed attempt(s)", self.stage, self.backoff.failures)
            self.backoff.reset()
            reporter.ok()

    async def _store(self, records: list[Any]) -> list[Poison]:
        """``store`` in a thread; a batch failing on its own account is stored one record at a time."""
        try:
            return list(await asyncio.to_thread(self.store, records))
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(records) == 1:
                log.exception("%s: storing %s[%s]@%s failed", self.stage, records[0].topic, records[0].partition,
                              records[0].offset)
                return [Poison(records[0], describe_error(exc))]
        poison: list[Poison] = []
        for record in records:  # a transient error here pauses the whole batch again
            poison += await self._store([record])
        return poison

    async def _pause(self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[Any]],
                     reporter: Reporter, exc: BaseException) -> None:
        delay = self.backoff.next()
        self.counters.retries += 1
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
        reporter.degraded(f"waiting for the infrastructure ({why}); retry {self.backoff.failures} in {delay:.1f}s")
        log.warning("%s: %s; reading the batch again in %.1fs", self.stage, why, delay)
        for tp, batch in batches.items():
            if batch:
                with contextlib.suppress(IllegalStateError):  # revoked meanwhile: its new owner reads it
                    consumer.seek(tp, batch[0].offset)
        await asyncio.sleep(delay)  # backoff before reading again, not a timing assumption

    async def _deadletter(self, producer: AIOKafkaProducer, item: Poison) -> None:
        record = item.record
        value = deadletter_record(raw=record.value, reason=item.reason, stage=self.stage, topic=record.topic,
                                  partition=record.partition, offset=record.offset, key=record.key, now=self.clock())
        await producer.send_and_wait(self.deadletter_topic, json.dumps(value).encode(), key=deadletter_key(record.key))
        self.counters.deadletter += 1
        log.warning("deadletter %s[%s]@%s: %s", record.topic, record.partition, record.offset, item.reason)

    async def _note_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Records left to read per assigned partition: the highwater minus the fetch position."""
        lag = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:  # no fetch answered for it yet
                continue
            with contextlib.suppress(IllegalStateError):  # revoked meanwhile
                lag[(tp.topic, tp.partition)] = max(highwater - await consumer.position(tp), 0)
        self.counters.lag = lag
