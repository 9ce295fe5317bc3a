"""Ingest API against the real embedded broker: events come back off the topic; outages give 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from retain.api import create_app, kafka_publisher
from infra.broker import EmbeddedBroker, ensure_topics, free_port
from infra.database import make_engine
from infra.settings import Settings
from retain.migrations import migrate
from signals.events import parse_event
from signals.publisher import KafkaEventPublisher
from tests.topics import read_topic

pytestmark = pytest.mark.integration

TS = "2026-11-22T10:00:00Z"


def event(i: int) -> dict:
    return {"event_id": f"e-{i}", "customer_id": f"c-{i % 3}", "type": "product.usage", "occurred_at": TS,
            "properties": {"sessions": i}}


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path_factory.mktemp("broker")) as running:
        asyncio.run(ensure_topics(running.bootstrap, {"events": 4}))
        yield running


@pytest.fixture
async def publisher(broker) -> AsyncIterator[KafkaEventPublisher]:
    async with KafkaEventPublisher(broker.bootstrap, "events", timeout=5.0) as pub:
        yield pub


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")





async def test_posted_events_are_on_the_topic_keyed_by_customer(broker, publisher, tmp_path):
    app = create_app(Settings(data_dir=tmp_path), publisher=publisher)
    body = [event(i) for i in range(6)]
    async with client_for(app) as client:
        response = await client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 6

    records = await read_topic(broker.bootstrap, "events", 6)
    got = {parse_event(r.value).event_id: r for r in records}
    assert set(got) == {f"e-{i}" for i in range(6)}
    for i in range(6):
        assert got[f"e-{i}"].key == f"c-{i % 3}".encode()
    # one customer's events share a partition, so consumers see them in order
    partitions = {r.key: set() for r in records}
    for r in records:
        partitions[r.key].add(r.partition)
    assert all(len(p) == 1 for p in partitions.values())


async def test_embedded_broker_refuses_idempotence_and_the_publisher_falls_back(publisher):
    await publisher.start()
    assert publisher.idempotent is False  # Tansu (memory storage) rejects InitProducerId


async def test_closed_broker_port_gives_503_and_not_ready(tmp_path):
    publisher = KafkaEventPublisher(f"127.0.0.1:{free_port()}", timeout=2.0)
    app = create_app(Settings(data_dir=tmp_path), publisher=publisher, engine=make_engine(Settings(data_dir=tmp_path)))
    try:
        async with client_for(app) as client:
            response = await client.post("/v1/events", json=event(1))
            assert response.status_code == 503
            assert response.headers["retry-after"]
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "ok"
            assert ready.json()["checks"]["broker"].startswith("unreachable")
    finally:
        await publisher.stop()


async def test_broker_stopping_after_start_gives_503(tmp_path):
    with EmbeddedBroker(tmp_path / "b") as own:
        await ensure_topics(own.bootstrap, {"events": 1})
        settings = Settings(data_dir=tmp_path, publish_timeout_seconds=2.0, kafka_url=None)
        publisher = kafka_publisher(settings, own.bootstrap)
        engine = make_engine(settings)
        migrate(engine)  # ingest looks up producer credentials there
        app = create_app(settings, publisher=publisher, engine=engine)
        async with client_for(app) as client:
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.post("/v1/events", json=event(1))).status_code == 202
            own.stop(timeout=0.5)  # Tansu ignores SIGTERM while clients are connected
            response = await client.post("/v1/events", json=[event(2), event(3)])
        await publisher.stop()
    assert response.status_code == 503
    assert response.headers["retry-after"]


def big_event(i: int, size: int) -> dict:
    return event(i) | {"properties": {"sessions": 1, "blob": "x" * size}}


@pytest.mark.parametrize("body", [
    pytest.param(lambda: big_event(90, 1_200_000), id="one-event-over-1MB"),
    pytest.param(lambda: [event(91), event(92), big_event(93, 1_200_000)], id="good-good-too-large"),
])
async def test_an_event_over_the_producer_limit_is_413_and_nothing_of_its_request_is_published(broker, tmp_path,
                                                                                               body):
    # Used to be 503 "retry" (a client retries forever), with the batch's good events already on the topic.
    topic = f"oversize-{tmp_path.name}"[:60]
    await ensure_topics(broker.bootstrap, {topic: 1})
    settings = Settings(data_dir=tmp_path)
    async with KafkaEventPublisher(broker.bootstrap, topic, timeout=5.0,
                                   max_record_bytes=settings.ingest_max_event_bytes) as publisher:
        async with client_for(create_app(settings, publisher=publisher)) as client:
            response = await client.post("/v1/events", json=body())
            assert response.status_code == 413, response.text
            assert "retry-after" not in response.headers
            (error,) = response.json()["detail"]
            assert error["loc"] == ([2] if isinstance(body(), list) else [])
            assert str(settings.ingest_max_event_bytes) in error["msg"]
            # a marker sent afterwards is the first and only record: nothing of the refused request went out
            assert (await client.post("/v1/events", json=event(99))).status_code == 202
    records = await read_topic(broker.bootstrap, topic, 1)
    assert [parse_event(r.value).event_id for r in records] == ["e-99"]


async def test_an_event_just_under_the_limit_is_published_whole(broker, publisher, tmp_path):
    settings = Settings(data_dir=tmp_path)
    async with client_for(create_app(settings, publisher=publisher)) as client:
        response = await client.post("/v1/events", json=big_event(80, 1_000_000))
    assert response.status_code == 202, response.text
