"""End to end on the real embedded broker: events -> signals -> decisions, stored and published.

One worker (signals and decision agents in one Faust app) folds profile and checkout events into
``checkout_idle`` signals carrying the customer's facts, decides them against a rules folder, stores every decision in SQLite
and publishes the engage ones to ``decisions``. The same events sent twice leave one decision
per episode; a malformed signal lands in ``deadletter``. Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from infra.broker import ensure_topics
from infra.database import make_engine, session_scope
from infra.settings import Settings
from infra.stream_app import topic_partitions
from retain.migrations import migrate
from retain.worker import InProcessWorker, build_worker
from triggers.records import DecisionRecord
from tests.waiting import wait_for
from tests.topics import TopicCollector

pytestmark = pytest.mark.integration

CUSTOMERS = 6
RULES = """schema_version: 1
rules:
  - id: cart-help
    version: 1
    signals: [checkout_idle]
    topic: service
    priority: 10
    relevance: 1d
    action: {channels: [email], brief: Ask whether they need help.}
"""



def profile(customer: str, at: dt.datetime) -> bytes:
    return json.dumps({"event_id": f"{customer}-p", "customer_id": customer, "type": "customer.profile",
                       "occurred_at": at.isoformat(),
                       "properties": {"email": f"{customer}@example.org", "time_zone": "Europe/Berlin"}}).encode()


def started(customer: str, at: dt.datetime) -> bytes:
    return json.dumps({"event_id": f"{customer}-e1", "customer_id": customer, "type": "checkout.started",
                       "occurred_at": at.isoformat(), "properties": {"checkout_id": "k1", "cart_value": 30}}).encode()



async def test_events_become_stored_and_published_decisions(broker, tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "cart.yaml").write_text(RULES)
    settings = Settings(data_dir=tmp_path, database_url=None, rules_dir=tmp_path / "rules",
                        app_id=f"retain-e2e-{uuid.uuid4().hex[:8]}", stream_tick_interval_seconds=0.2,
                        topic_partitions=2)
    await ensure_topics(broker.bootstrap, topic_partitions(settings))
    engine = make_engine(settings)
    migrate(engine)  # as `retain worker` and `retain up` do before the worker starts
    worker = build_worker(settings, broker_url=broker.url)
    decision_agents = worker.app.retain_decision_agents
    run = uuid.uuid4().hex[:6]
    customers = [f"{run}-c{i}" for i in range(CUSTOMERS)]
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)  # the idle deadline has passed

    def stored() -> int:
        try:
            with session_scope(engine) as session:
                return session.scalar(select(func.count()).select_from(DecisionRecord))
        except Exception:  # noqa: BLE001 - a locked database mid-write: count again
            return 0

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        async with InProcessWorker(worker), \
                TopicCollector(broker.bootstrap, "decisions", 2) as decisions, \
                TopicCollector(broker.bootstrap, "deadletter", 2) as deadletter:
            for c in customers:
                await producer.send("events", profile(c, long_ago), key=c.encode())
                await producer.send("events", started(c, long_ago), key=c.encode())
            await producer.flush()
            await wait_for(lambda: len(decisions.records) >= CUSTOMERS, 60,
                           lambda: f"one decision per customer; worker {worker.counters()}, "
                                   f"decisions {decision_agents.counters.as_dict()}, stored {stored()}")

            # Everything again (same event ids and a re-sent signal): nothing new may be stored.
            for c in customers:
                await producer.send("events", started(c, long_ago), key=c.encode())
            await producer.send("signals", json.dumps({"kind": "checkout_idle", "oops": 1}).encode(), key=b"x")
            await producer.flush()
            await wait_for(lambda: any(v.get("stage") == "triggers.decide" for _, v in deadletter.records), 30,
                           "the bad signal in deadletter")
            assert decision_agents.counters.deadletter == 1
            await wait_for(lambda: worker.agents.counters.events >= 3 * CUSTOMERS, 30, "every event folded")
    finally:
        await producer.stop()

    by_customer = {key.decode(): value for key, value in decisions.records}
    assert sorted(by_customer) == sorted(customers)  # keyed by customer_id
    assert {(v["outcome"], v["reason"], v["rule_id"], v["channel"]) for v in by_customer.values()} == {
        ("engage", "eligible", "cart-help", "email")}
    assert stored() == CUSTOMERS
    engine.dispose()
