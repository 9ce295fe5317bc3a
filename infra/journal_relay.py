"""The journal relay: acknowledged records from the SQL journal to the broker, in order.

One background task reads the journal after its cursor (woken by ``notify`` after each append,
and polling as a fallback) and produces each record to the partition ``partition_for(key)``
with ``acks=all``, waiting for every acknowledgement of a batch before reading the next, so
one key's records reach its partition in journal order. A record is produced at least once: a
failed batch is produced again from its first record (consumers drop duplicates by event id).

At start the broker is empty (the embedded broker keeps nothing), so the relay begins at the
positions of the last stream checkpoint (``start_after``: per partition, the highest ``seq``
the checkpointed state already includes) and skips, per partition, what those states hold.
For the checkpointer it remembers which offset each relayed ``seq`` landed at (``covered_seq``).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine

from infra import journal
from infra.database import session_scope
from infra.health import Reporter
from infra.kafka_positions import partition_for

log = logging.getLogger(__name__)

SEQ_HEADER = "retain-journal-seq"


class JournalRelay:
    """Relays one topic's journal to the broker; ``acked_seq`` says how far it got."""

    def __init__(self, engine: Engine, bootstrap: str, *, topic: str, partitions: int,
                 start_after: Mapping[int, int] | None = None, batch: int = 1000, poll_seconds: float = 0.5,
                 health: Reporter | None = None) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.start_after = {p: int((start_after or {}).get(p, 0)) for p in range(partitions)}
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.health = health
        self.cursor = min(self.start_after.values(), default=0)
        self.acked_seq = self.cursor  # every journal row with seq <= this is on the broker (or covered)
        self.relayed = 0
        # Per partition: offsets and the seq produced at each, ascending (this broker's lifetime).
        self._offsets: dict[int, list[int]] = {p: [] for p in range(partitions)}
        self._seqs: dict[int, list[int]] = {p: [] for p in range(partitions)}
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """New rows were committed: read them now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        """Connect and start relaying in the background."""
        # Tansu refuses idempotent producers (InitProducerId); order holds with one request in flight.
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=False,
                                          linger_ms=2, max_batch_size=512 * 1024)
        await self._producer.start()
        self._task = asyncio.create_task(self._run(), name="infra.journal_relay")

    async def stop(self) -> None:
        """Stop relaying (what was acknowledged stays on the broker)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._producer is not None:
            await self._producer.stop()

    def covered_seq(self, partition: int, offset: int) -> int:
        """The highest seq of ``partition`` produced below ``offset`` (its start position if none)."""
        offsets = self._offsets[partition]
        index = bisect.bisect_left(offsets, offset)
        seq = self._seqs[partition][index - 1] if index else 0
        return max(seq, self.start_after[partition])

    async def _run(self) -> None:
        while True:
            try:
                rows = await asyncio.to_thread(self._read)
                if not rows:
                    self._report_ok()
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    except asyncio.TimeoutError:
                        pass  # poll: a row appended by another process is found this way
                    continue
                await self._produce(rows)
                self._report_ok()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database away: retry the same rows
                log.warning("journal relay of %s paused: %r; retrying", self.topic, exc)
                if self.health is not None:
                    self.health.degraded(f"relay paused: {type(exc).__name__}")
                await asyncio.sleep(1.0)  # back-off before retrying the same rows

    def _read(self) -> list[tuple[int, bytes, bytes]]:
        with session_scope(self.engine) as session:
            return journal.read_after(session=session, topic=self.topic, after=self.cursor, limit=self.batch)

    async def _produce(self, rows: list[tuple[int, bytes, bytes]]) -> None:
        assert self._producer is not None
        sent: list[tuple[int, int, Any]] = []
        for seq, key, payload in rows:
            partition = partition_for(key, self.partitions)
            if seq <= self.start_after[partition]:
                continue  # already folded into the restored state of that partition
            future = await self._producer.send(self.topic, payload, key=key, partition=partition,
                                               headers=[(SEQ_HEADER, str(seq).encode())])
            sent.append((seq, partition, future))
        for seq, partition, future in sent:
            metadata = await future
            self._offsets[partition].append(metadata.offset)
            self._seqs[partition].append(seq)
        self.relayed += len(sent)
        self.cursor = self.acked_seq = rows[-1][0]

    def _report_ok(self) -> None:
        if self.health is not None:
            self.health.ok(f"relayed up to {self.acked_seq}")

    def forget_below(self, partition: int, offset: int) -> None:
        """Drop the offset map below ``offset`` (a checkpoint covers it); keeps memory bounded."""
        offsets = self._offsets[partition]
        index = max(0, bisect.bisect_left(offsets, offset) - 1)  # keep the last one below: covered_seq needs it
        if index:
            del offsets[:index]
            del self._seqs[partition][:index]
