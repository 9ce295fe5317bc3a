"""Where records go and how far consumers got: partitioner, end offsets, committed offsets.

``partition_for`` is the partition every producer here uses for a key (the Java client's and
aiokafka's murmur2 default), so a key's events, its state changelog and a restore all agree.
``end_offsets`` corrects Tansu's end offsets (``infra.stream_app.true_end_offsets``);
``committed_offsets`` reads a consumer group's commits without joining it.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2

from infra.stream_app import true_end_offsets


def partition_for(key: bytes, partitions: int) -> int:
    """The partition of ``key`` among ``partitions`` (aiokafka's default partitioner)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def topic_partitions_of(topic: str, partitions: int) -> list[TopicPartition]:
    """``[TopicPartition(topic, 0), ...]``."""
    return [TopicPartition(topic, p) for p in range(partitions)]


async def end_offsets(bootstrap: str, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """The true next offset of each partition (0 for an empty one)."""
    tps = list(tps)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        reported = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    ends = await true_end_offsets(bootstrap, reported)
    return {tp: int(ends.get(tp) or 0) for tp in tps}


async def committed_offsets(bootstrap: str, group: str, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """The offsets ``group`` committed for ``tps`` (0 where it committed nothing)."""
    tps = list(tps)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=tps)
    finally:
        await admin.close()
    return {tp: max(0, found[tp].offset) if tp in found else 0 for tp in tps}
