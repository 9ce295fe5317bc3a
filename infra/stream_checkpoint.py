"""Checkpoints of a changelogged stream table in SQL, and their restore into a fresh broker.

For the single-box mode, where the embedded broker forgets everything on a restart. A checkpoint
is the latest changelog value of every key plus, per partition, the journal position those
values include (``infra.records``). At start ``restore`` writes the values back into the empty
changelog topic before the worker starts (Faust recovers its table from them) and returns the
positions; the journal relay then replays only what comes after them.

One checkpoint (``StreamCheckpointer.checkpoint``), in this order:

1. ``relay.acked_seq`` then the source topic's end offsets (what the relay had produced by then);
2. the offsets every ``source_groups`` consumer committed on the source topic: below their
   minimum every event is folded AND its state record was written before the commit (Faust
   flushes the producer before committing), and was projected; that offset maps to a journal
   position through the relay (a fully consumed partition covers everything relayed in step 1);
3. the changelog from the last checkpoint up to its true end: the changed keys;
4. ``flush()`` of the worker's producer: the outputs sent before those state records (the worker
   sends a state's signals before its changelog record) are acknowledged now;
5. wait until every ``outputs`` consumer group committed past the outputs' end offsets read after
   the flush (the signals a checkpointed state remembers were stored and decided);
6. one transaction: upsert the changed states, raise the positions, prune the journal below the
   lowest position.

States may include events past the positions (folded, not yet committed): those are replayed
after a restart and dropped by the fold's ``event_id`` dedup. If step 5 times out the round is
skipped and its changes stay pending: a checkpoint never covers a signal that is not stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import Engine, delete, select
from sqlmodel import Session

from infra import journal
from infra.broker import ensure_topics
from infra.database import dialect_insert, session_scope, utcnow
from infra.health import Reporter
from infra.kafka_positions import committed_offsets, end_offsets, partition_for, topic_partitions_of
from infra.records import StreamPositionRecord, StreamStateRecord

log = logging.getLogger(__name__)

WRITE_CHUNK = 500  # rows per INSERT ... ON CONFLICT


def load_positions(engine: Engine, changelog: str, partitions: int) -> dict[int, int]:
    """Per partition, the journal position the checkpoint of ``changelog`` includes (0: none).

    Taken with another partition count, keys moved between partitions: every partition then
    starts at the lowest position, so nothing a state might lack is skipped.
    """
    with Session(engine) as session:
        rows = list(session.scalars(select(StreamPositionRecord).where(StreamPositionRecord.changelog == changelog)))
    if rows and all(row.partitions == partitions for row in rows):
        found = {row.partition: row.journal_seq for row in rows}
        return {p: found.get(p, 0) for p in range(partitions)}
    lowest = min((row.journal_seq for row in rows), default=0)
    return {p: lowest for p in range(partitions)}


async def restore(engine: Engine, bootstrap: str, *, changelog: str, partitions: int,
                  chunk: int = 2000) -> int:
    """Write the checkpointed states of ``changelog`` into the (empty) topic; returns how many."""
    await ensure_topics(bootstrap, {changelog: partitions})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                                linger_ms=5, max_batch_size=512 * 1024, max_request_size=4 * 1024 * 1024)
    await producer.start()
    restored = 0
    try:
        after: bytes | None = None
        while True:
            rows = await asyncio.to_thread(_read_states, engine, changelog, after, chunk)
            if not rows:
                break
            futures = [await producer.send(changelog, value, key=key, partition=partition_for(key, partitions))
                       for key, value in rows]
            await asyncio.gather(*futures)
            restored += len(rows)
            after = rows[-1][0]
    finally:
        await producer.stop()
    return restored


def _read_states(engine: Engine, changelog: str, after: bytes | None, limit: int) -> list[tuple[bytes, bytes]]:
    query = select(StreamStateRecord.key, StreamStateRecord.value).where(StreamStateRecord.changelog == changelog)
    if after is not None:
        query = query.where(StreamStateRecord.key > after)
    with session_scope(engine) as session:
        rows = session.execute(query.order_by(StreamStateRecord.key).limit(limit)).all()
    return [(bytes(key), bytes(value)) for key, value in rows]


class StreamCheckpointer:
    """Takes checkpoints of one changelog every ``interval`` seconds, and a last one on ``stop``."""

    def __init__(
        self, engine: Engine, bootstrap: str, *, changelog: str, source_topic: str, partitions: int,
        relay: Any, source_groups: Sequence[str], outputs: Mapping[str, Sequence[str]],
        flush: Callable[[], Awaitable[Any]], interval: float = 5.0, wait_outputs: float = 120.0,
        health: Reporter | None = None,
    ) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.changelog = changelog
        self.source_topic = source_topic
        self.partitions = partitions
        self.relay = relay
        self.source_groups = list(source_groups)
        self.outputs = {topic: list(groups) for topic, groups in outputs.items()}
        self.flush = flush
        self.interval = interval
        self.wait_outputs = wait_outputs
        self.health = health
        self.checkpoints = 0
        self.positions: dict[int, int] = {}
        self._pending: dict[bytes, bytes | None] = {}  # changed keys since the last checkpoint
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Follow the changelog from its current end (call after ``restore``, before the worker)."""
        tps = topic_partitions_of(self.changelog, self.partitions)
        ends = await end_offsets(self.bootstrap, tps)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                          max_partition_fetch_bytes=4 * 1024 * 1024)
        await self._consumer.start()
        self._consumer.assign(tps)
        for tp in tps:
            self._consumer.seek(tp, ends[tp])
        self._task = asyncio.create_task(self._run(), name="infra.stream_checkpoint")
        if self.health is not None:
            self.health.ok("following the changelog")

    async def stop(self, *, final: bool = True) -> None:
        """Stop the timer; with ``final`` take one last checkpoint (after the worker stopped)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            if final and self._consumer is not None:
                try:
                    await self.checkpoint(wait_outputs=2.0)
                except Exception as exc:  # noqa: BLE001 - the journal replay covers what this would have saved
                    # e.g. "database is locked" when stopping during a database outage: the positions
                    # in SQL stay at the last checkpoint, so the next start replays from there.
                    log.warning("final stream checkpoint failed (%r); the next start replays the journal "
                                "after the last checkpoint", exc)
        finally:
            if self._consumer is not None:
                try:
                    await self._consumer.stop()
                except Exception as exc:  # noqa: BLE001 - stopping must not fail the shutdown
                    log.warning("changelog follower did not stop cleanly: %r", exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)  # the checkpoint period
            try:
                await self.checkpoint()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried next period; nothing is lost meanwhile
                log.warning("stream checkpoint failed: %r", exc)
                if self.health is not None:
                    self.health.degraded(f"checkpoint failed: {type(exc).__name__}")

    async def checkpoint(self, *, wait_outputs: float | None = None) -> bool:
        """Take one checkpoint (see the module docstring); False when the outputs were not stored in time."""
        async with self._lock:
            relayed = self.relay.acked_seq
            source = topic_partitions_of(self.source_topic, self.partitions)
            ends = await end_offsets(self.bootstrap, source)
            consumed = {tp: ends[tp] for tp in source}
            for group in self.source_groups:
                committed = await committed_offsets(self.bootstrap, group, source)
                consumed = {tp: min(consumed[tp], committed[tp]) for tp in source}
            positions = {}
            for tp in source:
                seq = self.relay.covered_seq(tp.partition, consumed[tp])
                positions[tp.partition] = max(seq, relayed) if consumed[tp] >= ends[tp] else seq
            await self._read_changelog()
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 - a stopped producer sent everything already
                log.debug("producer flush before checkpoint: %r", exc)
            if not await self._outputs_stored(self.wait_outputs if wait_outputs is None else wait_outputs):
                log.info("stream checkpoint skipped: outputs not stored yet")
                return False
            pending, self._pending = self._pending, {}
            try:
                await asyncio.to_thread(self._write, pending, positions)
            except BaseException:
                self._pending = {**pending, **self._pending}  # keep them for the next round
                raise
            for tp in source:
                self.relay.forget_below(tp.partition, consumed[tp])
            self.positions = positions
            self.checkpoints += 1
            if self.health is not None:
                self.health.ok(f"{len(pending)} states at journal {min(positions.values(), default=0)}")
            return True

    async def _read_changelog(self, timeout: float = 30.0) -> None:
        assert self._consumer is not None
        tps = topic_partitions_of(self.changelog, self.partitions)
        ends = await end_offsets(self.bootstrap, tps)
        deadline = time.monotonic() + timeout
        while [tp for tp in tps if await self._consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"changelog {self.changelog} not read up to {ends} in {timeout}s")
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                for record in records:
                    self._pending[record.key] = record.value

    async def _outputs_stored(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for topic, groups in self.outputs.items():
            tps = topic_partitions_of(topic, self.partitions)
            ends = await end_offsets(self.bootstrap, tps)
            for group in groups:
                while True:
                    committed = await committed_offsets(self.bootstrap, group, tps)
                    if all(committed[tp] >= ends[tp] for tp in tps):
                        break
                    if time.monotonic() > deadline:
                        return False
                    await asyncio.sleep(0.2)  # poll the group's commits within a bounded wait
        return True

    def _write(self, pending: dict[bytes, bytes | None], positions: dict[int, int]) -> None:
        now = utcnow()
        table = StreamStateRecord.__table__
        with session_scope(self.engine) as session:
            gone = [key for key, value in pending.items() if value is None]
            if gone:
                session.execute(delete(StreamStateRecord).where(StreamStateRecord.changelog == self.changelog,
                                                                StreamStateRecord.key.in_(gone)))
            rows = [{"changelog": self.changelog, "key": key, "value": value, "updated_at": now}
                    for key, value in pending.items() if value is not None]
            for start in range(0, len(rows), WRITE_CHUNK):
                stmt = dialect_insert(session, table).values(rows[start:start + WRITE_CHUNK])
                session.execute(stmt.on_conflict_do_update(
                    index_elements=["changelog", "key"],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}))
            session.execute(delete(StreamPositionRecord).where(  # left from a larger partition count
                StreamPositionRecord.changelog == self.changelog, StreamPositionRecord.partition >= self.partitions))
            stored = {row.partition: row for row in session.scalars(
                select(StreamPositionRecord).where(StreamPositionRecord.changelog == self.changelog))}
            for partition, seq in positions.items():
                row = stored.get(partition)
                if row is None:
                    session.add(StreamPositionRecord(changelog=self.changelog, partition=partition,
                                                     partitions=self.partitions, journal_seq=seq, updated_at=now))
                elif seq > row.journal_seq or row.partitions != self.partitions:
                    row.journal_seq, row.partitions, row.updated_at = seq, self.partitions, now
            lowest = min(positions.values(), default=0)
            if lowest:
                journal.prune(session=session, topic=self.source_topic, upto=lowest)
            session.commit()
