"""The consumer loop outside Faust through a database outage: pause, say so, resume, lose nothing.

``DecisionsToOutbox`` and ``Projection`` run under a ``Supervisor`` on the real embedded broker,
against SQLite write-locked by another connection and PostgreSQL behind a proxy that drops and
refuses connections. While the database is away they report ``degraded`` and dead-letter
nothing; once it is back every record is stored exactly once, and only the poison record went
to ``deadletter``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from infra.broker import ensure_topics
from infra.health import Health
from infra.stream_app import DEADLETTER, EVENTS, SIGNALS
from infra.supervisor import Supervisor
from outreach.agents import DecisionsToOutbox
from outreach.outbox.records import OutboxRecord
from signals.projection import Projection
from signals.records import CustomerRecord
from tests.fakes.outreach_world import T0, decision
from tests.topics import read_json_topic
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

BATCH = 6


@pytest.fixture
async def producer(broker):
    await ensure_topics(broker.bootstrap, {EVENTS: 2, SIGNALS: 2, DEADLETTER: 2})
    started = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await started.start()
    yield started
    await started.stop()


def _outbox_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(OutboxRecord)) or 0


async def test_the_outbox_consumer_waits_out_an_outage_and_enqueues_each_decision_once(broker, producer, breakable_engine):
    breakable, engine = breakable_engine
    run = uuid.uuid4().hex[:8]
    topic, deadletter = f"decisions-{run}", f"deadletter-{run}"
    await ensure_topics(broker.bootstrap, {topic: 2, deadletter: 2})
    consumer = DecisionsToOutbox(engine, broker.bootstrap, group_id=f"outreach-{run}", topic=topic,
                                 deadletter_topic=deadletter, clock=lambda: T0)
    health = Health()
    async with Supervisor(health) as supervisor:
        supervisor.start("outreach.enqueue", consumer.run)
        await wait_for(health.ready, 30, "the consumer started")
        breakable.start_outage()
        for i in range(BATCH):
            value = decision(f"{run}-c{i}", episode=f"e{i}").to_dict()
            await producer.send(topic, json.dumps(value).encode(), key=f"{run}-c{i}".encode())
        await producer.send_and_wait(topic, b"{not json", key=b"poison")
        await wait_for(lambda: "outreach.enqueue" in health.problems(), 60, "the outage reported")
        assert health.snapshot()["outreach.enqueue"]["status"] == "degraded"

        breakable.end_outage()
        await wait_for(lambda: consumer.counters.enqueued == BATCH, 60,
                       lambda: f"every decision enqueued: {consumer.counters.as_dict()} {health.problems()}")
        await wait_for(health.ready, 30, lambda: f"ok again: {health.problems()}")
        # Everything read again after the outage: still one row per decision.
        await producer.send_and_wait(topic, json.dumps(decision(f"{run}-c0", episode="e0").to_dict()).encode(),
                                     key=f"{run}-c0".encode())
        await wait_for(lambda: consumer.counters.duplicates >= 1, 30, "the repeated decision seen")
    assert _outbox_rows(engine) == BATCH
    assert consumer.counters.as_dict()["deadletter"] == 1
    assert consumer.consumer.counters.retries >= 1
    dead = await read_json_topic(broker.bootstrap, deadletter, 2, lambda rs: len(rs) >= 1)
    assert [(d["stage"], d["payload"]) for d in dead] == [("outreach.enqueue", "{not json")]
    assert health.snapshot()["outreach.enqueue"]["restarts"] == 0  # paused, never crashed


def _profile(customer_id: str) -> bytes:
    return json.dumps({"event_id": f"{customer_id}-p", "customer_id": customer_id, "type": "customer.profile",
                       "occurred_at": (T0 - dt.timedelta(days=1)).isoformat(),
                       "properties": {"email": f"{customer_id}@example.org"}}).encode()


async def test_the_projection_waits_out_an_outage_and_stores_every_profile(broker, producer, breakable_engine):
    breakable, engine = breakable_engine
    run = uuid.uuid4().hex[:8]
    projection = Projection(engine, broker.bootstrap, group_id=f"projection-{run}")
    health = Health()
    async with Supervisor(health) as supervisor:
        supervisor.start("signals.projection", projection.run)
        await wait_for(health.ready, 30, "the projection started")
        breakable.start_outage()
        for i in range(BATCH):
            await producer.send(EVENTS, _profile(f"{run}-c{i}"), key=f"{run}-c{i}".encode())
        await producer.flush()
        await wait_for(lambda: "signals.projection" in health.problems(), 60, "the outage reported")

        breakable.end_outage()
        await wait_for(lambda: _customers(engine, run) == BATCH, 60,
                       lambda: f"every profile stored: {_customers(engine, run)}, {health.problems()}")
        await wait_for(health.ready, 30, lambda: f"ok again: {health.problems()}")
    assert health.snapshot()["signals.projection"]["restarts"] == 0


def _customers(engine: Engine, run: str) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(CustomerRecord)
                              .where(CustomerRecord.customer_id.like(f"{run}-%"))) or 0
