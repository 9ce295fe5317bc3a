"""Consumer lag for ``/metrics`` against the embedded broker: end offset minus the group's committed offset."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from retain.api.metrics import kafka_consumer_lag, lag_of
from infra.broker import EmbeddedBroker, ensure_topics

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("committed", "end", "expected"), [
    (3, 10, 7),  # behind
    (10, 10, 0),  # caught up
    (None, 4, 4),  # nothing committed on this partition: all of it is lag
    (-1, 4, 4),  # Kafka's "no offset" marker
    (12, 10, 0),  # a stale end offset never makes lag negative
])
def test_lag_of(committed, end, expected):
    tp = TopicPartition("events", 0)
    assert lag_of({tp: committed}, {tp: end}) == {("events", 0): expected}


async def test_lag_of_a_group_on_the_embedded_broker(tmp_path):
    broker = await EmbeddedBroker(tmp_path).start_async()
    try:
        await ensure_topics(broker.bootstrap, {"lag-events": 1})
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            for i in range(8):
                await producer.send_and_wait("lag-events", b"x", partition=0)
        finally:
            await producer.stop()
        tp = TopicPartition("lag-events", 0)
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="lag-group", enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign([tp])
            await consumer.commit({tp: OffsetAndMetadata(3, "")})
        finally:
            await consumer.stop()
        assert await kafka_consumer_lag(broker.bootstrap, "lag-group", {"lag-events": 1}) == {("lag-events", 0): 5}
        assert await kafka_consumer_lag(broker.bootstrap, "no-such-group", {"lag-events": 1}) == {}
    finally:
        broker.stop()
