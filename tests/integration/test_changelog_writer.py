"""ChangelogWriter on the real broker: batched state records, the latest per key, in order."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer

from infra.broker import ensure_topics
from signals.changelog import ChangelogWriter
from tests.topics import read_topic

pytestmark = pytest.mark.integration

TOPIC = "writer-test-customer_state-changelog"


class GatedProducer:
    """A real AIOKafkaProducer whose ``send_batch`` can be held at a gate (to interleave flushes)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.gate = asyncio.Event()
        self.gate.set()
        self.batches: list[tuple[int, int]] = []  # (partition, records) per batch sent

    def create_batch(self):
        return self.producer.create_batch()

    async def send_batch(self, batch, topic, *, partition):
        await self.gate.wait()
        self.batches.append((partition, batch.record_count()))
        return await self.producer.send_batch(batch, topic, partition=partition)


def writer_for(producer: GatedProducer) -> ChangelogWriter:
    app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer))
    table = SimpleNamespace(data={}, changelog_topic=SimpleNamespace(get_topic_name=lambda: TOPIC))
    return ChangelogWriter(app, table)


@pytest.fixture
async def producer(broker):
    await ensure_topics(broker.bootstrap, {TOPIC: 2})
    real = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
    await real.start()
    try:
        yield GatedProducer(real)
    finally:
        await real.stop()


async def test_flush_writes_the_latest_state_of_each_key_to_its_partition_in_one_batch_each(broker, producer):
    writer = writer_for(producer)
    writer.put(0, b"c1", {"n": 1})
    writer.put(1, b"c2", {"n": 1})
    writer.put(0, b"c1", {"n": 2})  # newer state of the same customer before the flush
    writer.put(0, b"c3", {"n": 1, "when": "2026-11-23T00:00:00+00:00"})
    assert writer.table.data == {b"c1": {"n": 2}, b"c2": {"n": 1}, b"c3": {"n": 1, "when": "2026-11-23T00:00:00+00:00"}}

    await writer.flush()
    await producer.producer.flush()
    records = await read_topic(broker.bootstrap, TOPIC, 3)
    got = sorted((r.partition, r.key, json.loads(r.value)) for r in records)
    assert got == [(0, b"c1", {"n": 2}), (0, b"c3", {"n": 1, "when": "2026-11-23T00:00:00+00:00"}), (1, b"c2", {"n": 1})]
    assert sorted(producer.batches) == [(0, 2), (1, 1)]


async def test_a_flush_whose_records_a_running_flush_took_returns_only_after_they_are_handed_over(producer):
    # The events agent's flush may find its records already taken by a tick's flush; it must not
    # return (and let the batch's offsets be acked) before those records reach the producer.
    writer = writer_for(producer)
    producer.gate.clear()  # the first flush will hold inside send_batch
    writer.put(0, b"k", {"v": 1})
    first = asyncio.ensure_future(writer.flush())
    await asyncio.sleep(0)
    second = asyncio.ensure_future(writer.flush())  # nothing left to send of its own
    for _ in range(5):
        await asyncio.sleep(0)
    assert not second.done()
    producer.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    assert producer.batches == [(0, 1)]
