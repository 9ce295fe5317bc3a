"""Reading Kafka topics in tests: from the beginning, without a consumer group, bounded in time."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_topic(bootstrap: str, topic: str, count: int, *, timeout: float = 15.0) -> list:
    """Up to ``count`` records of ``topic`` from its start (fewer if ``timeout`` passes first)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            records.extend(r for batch in batches.values() for r in batch)
    finally:
        await consumer.stop()
    return records


async def read_json_topic(bootstrap: str, topic: str, partitions: int, until: Callable[[list[dict]], bool],
                          *, timeout: float = 20.0) -> list[dict]:
    """A JSON topic's decoded values from its start, once ``until(values)`` holds (or ``timeout``)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    values: list[dict] = []
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while not until(values) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            values += [json.loads(r.value) for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    return values


class TopicCollector:
    """Collects a JSON topic from the beginning in the background: ``records`` = [(key, value)]."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.records: list[tuple[bytes, dict]] = []
        self._task: asyncio.Task | None = None

    @property
    def values(self) -> list[dict]:
        """The decoded values seen so far."""
        return [value for _, value in self.records]

    async def __aenter__(self) -> "TopicCollector":
        await self.consumer.start()
        self.consumer.assign(self.partitions)
        await self.consumer.seek_to_beginning(*self.partitions)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                self.records += [(r.key, json.loads(r.value)) for r in records]

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()
