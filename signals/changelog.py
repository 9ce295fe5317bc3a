"""The customer state table and its changelog: states stored in memory now, their records written in batches.

``CustomerStateTable`` is the Faust table (orjson codec); ``ChangelogWriter`` is how the signals
agents write it (see its docstring for the delivery semantics); ``StateCodec`` encodes a state
once, when the batch that made it is folded, so a state that cannot be stored is found there,
per customer, and never fails a whole flush.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import orjson
from faust.exceptions import NotReady
from faust.serializers.codecs import Codec


class ChangelogWriter:
    """Stores customer states in the table now and writes their changelog records in batches.

    ``table[key] = state`` sends each record through Faust's producer buffer (a future, a pending
    message and a task hop per record: ~20 us). ``put`` stores the state in the in-memory table
    at once (no await: a tick or batch reading it next sees it) and queues the record; ``flush``
    writes the queued records as one aiokafka record batch per changelog partition.

    Delivery semantics stay Faust's: a batch's events are acked only after its ``flush`` returned
    (records are in the producer's accumulator by then) and Faust's commit flushes the producer
    before it commits offsets. ``flush`` runs under one lock, so a ``flush`` that finds its
    records taken by a concurrent one still returns only after they were handed over, and one
    customer's records reach the changelog in the order its states were made.
    """

    def __init__(self, app: faust.App, table: Any) -> None:
        self.app = app
        self.table = table
        self.codec = StateCodec()
        self._pending: dict[bytes, tuple[int, Any, bytes | None]] = {}
        self._lock = asyncio.Lock()

    def put(self, partition: int, key: bytes, state: Any, encoded: bytes | None = None) -> None:
        """Store ``state`` in the table (memory) now; its changelog record (``encoded``, if given) goes out on ``flush``."""
        self.table.data[key] = state
        self._pending[key] = (partition, state, encoded)  # a newer state of the same key replaces the older

    async def flush(self) -> None:
        """Write every queued record to the changelog (one record batch per partition)."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                producer = self.app.producer._ensure_producer()  # the app's aiokafka producer
            except NotReady:  # not started (an agent under test_context()): Faust's own path
                for key, (partition, state, _) in pending.items():
                    self.table.send_changelog(partition, key, state)
                return
            by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
            for key, (partition, state, encoded) in pending.items():
                value = encoded if encoded is not None else self.codec.dumps(state)
                by_partition.setdefault(partition, []).append((key, value))
            topic = self.table.changelog_topic.get_topic_name()
            await asyncio.gather(*(
                self._send(producer, topic, partition, items) for partition, items in by_partition.items()
            ))

    @staticmethod
    async def _send(producer: Any, topic: str, partition: int, items: list[tuple[bytes, bytes]]) -> None:
        batch = producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: ship it
                await producer.send_batch(batch, topic, partition=partition)
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        await producer.send_batch(batch, topic, partition=partition)


class StateCodec(Codec):
    """The state table's changelog codec: the same compact JSON as Faust's ``json``, via orjson.

    Encoding a customer's state is the worker's largest per-write cost (a heavy customer's state
    is ~15 KB); orjson does it 5-10x faster than the standard library. Records stay plain JSON,
    so the changelog remains readable by any consumer.
    """

    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)

    def _loads(self, s: bytes) -> Any:
        return orjson.loads(s)


class CustomerStateTable(faust.Table):
    """The customer state table: orjson changelog codec; written through ``ChangelogWriter``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Before the changelog topic and the store are made (lazily): both take this codec.
        self.value_serializer = StateCodec()
