"""The embedded Tansu broker: starts on a free port, speaks Kafka, and is gone after stop()."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.broker import EmbeddedBroker, ensure_topics

pytestmark = pytest.mark.integration



def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def test_addresses_are_loopback_and_consistent(broker):
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert broker.url == f"kafka://127.0.0.1:{broker.port}"
    assert broker.running and port_open("127.0.0.1", broker.port)


async def test_ensure_topics_creates_missing_ones_only(broker):
    created = await ensure_topics(broker.bootstrap, {"bt-a": 3, "bt-b": 2})
    assert sorted(created) == ["bt-a", "bt-b"]
    assert await ensure_topics(broker.bootstrap, {"bt-a": 3, "bt-c": 1}) == ["bt-c"]  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(["bt-a", "bt-b"])}
    finally:
        await admin.close()
    assert described == {"bt-a": 3, "bt-b": 2}


async def test_keyed_records_round_trip_and_group_offsets_are_kept(broker):
    await ensure_topics(broker.bootstrap, {"bt-rt": 4})
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for i in range(50):
            await producer.send("bt-rt", json.dumps({"n": i}).encode(), key=f"c{i % 7}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    async def consume(expected: int) -> list:
        consumer = AIOKafkaConsumer("bt-rt", bootstrap_servers=broker.bootstrap, group_id="bt-group",
                                    auto_offset_reset="earliest", enable_auto_commit=False,
                                    session_timeout_ms=6000, rebalance_timeout_ms=6000, heartbeat_interval_ms=1000)
        await consumer.start()
        records = []
        deadline = time.monotonic() + 30
        try:
            while len(records) < expected and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=300)
                records += [r for rs in batch.values() for r in rs]
            await consumer.commit()
        finally:
            await consumer.stop()
        return records

    records = await consume(50)
    assert sorted(json.loads(r.value)["n"] for r in records) == list(range(50))
    # one key, one partition: per-customer order survives the broker
    by_key: dict[bytes, set[int]] = {}
    for r in records:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_key.values())
    # the group's committed offsets are past the last record read: a restarted member re-reads
    # nothing. (Not compared with end_offsets(): Tansu 0.6 reports the last *batch's* base offset
    # + 1 there, see docs/streaming.md.)
    read_up_to = {}
    for r in records:
        tp = TopicPartition("bt-rt", r.partition)
        read_up_to[tp] = max(read_up_to.get(tp, 0), r.offset + 1)
    checker = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="bt-group", enable_auto_commit=False)
    await checker.start()
    try:
        checker.assign(list(read_up_to))
        committed = {tp: await checker.committed(tp) for tp in read_up_to}
    finally:
        await checker.stop()
    assert committed == read_up_to


def test_stop_kills_the_broker_and_frees_the_port(tmp_path):
    broker = EmbeddedBroker(tmp_path).start()
    port = broker.port
    assert port_open("127.0.0.1", port)
    broker.stop()
    assert not broker.running and not port_open("127.0.0.1", port)
    assert (tmp_path / "broker.log").read_text()  # its output is kept for debugging
    broker.stop()  # a second stop is harmless


async def test_start_async_inside_a_running_loop(tmp_path):
    broker = await EmbeddedBroker(tmp_path).start_async()
    try:
        assert await ensure_topics(broker.bootstrap, {"bt-async": 1}) == ["bt-async"]
    finally:
        broker.stop()


def test_health_check_times_out_on_a_silent_port():
    # A listening socket that never answers Kafka: the bounded wait must give up, not hang.
    from infra.broker import wait_until_ready

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            asyncio.run(wait_until_ready(f"127.0.0.1:{port}", timeout=1.5))
        assert time.monotonic() - started < 15


async def test_true_end_offsets_corrects_the_last_batch_quirk(broker):
    # Tansu 0.6 reports the last batch's base offset + 1 as the end offset; Faust's table
    # recovery depends on the true end, which true_end_offsets recovers (docs/streaming.md).
    from infra.stream_app import true_end_offsets

    await ensure_topics(broker.bootstrap, {"bt-end": 2})
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=50)
    await producer.start()
    try:
        futures = [await producer.send("bt-end", b"x", partition=0) for _ in range(10)]  # one batch
        await producer.flush()
        offsets = [(await f).offset for f in futures]
    finally:
        await producer.stop()
    assert offsets == list(range(10))
    tp0, tp1 = TopicPartition("bt-end", 0), TopicPartition("bt-end", 1)
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
    await consumer.start()
    try:
        reported = await consumer.end_offsets([tp0, tp1])
    finally:
        await consumer.stop()
    corrected = await true_end_offsets(broker.bootstrap, reported)
    assert corrected == {tp0: 10, tp1: 0}  # an empty partition stays 0
