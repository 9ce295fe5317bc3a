"""The decision stage through a database outage: wait, say so, decide every signal once, lose none.

A real Faust worker on the embedded broker decides signals against SQLite write-locked by another
connection, or PostgreSQL behind a proxy that drops and refuses connections. Valid signals are
never dead-lettered for the database's sake (before the fix: "RuntimeError: decision stage
failed", stage ``triggers.decide``); a signal whose relevance ran out while the database was away
is stored as ``expired``. Stopping the worker in the middle of the outage commits no offset past
an undecided signal: a new worker decides them once the database is back.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, select
from sqlmodel import Session

from infra.broker import ensure_topics
from infra.health import Health
from infra.settings import Settings
from infra.stream_app import DEADLETTER, SIGNALS, topic_partitions
from retain.worker import InProcessWorker, build_worker
from signals.signal import Signal
from tests.rule_files import rules_yaml, service_rule
from tests.topics import read_json_topic
from tests.waiting import wait_for
from triggers.records import DecisionRecord

pytestmark = pytest.mark.integration

RULES = rules_yaml(service_rule("late-help", "shipping_delay",
                                "Say the parcel is late and that they can reply for help.", relevance="1h"))
SIGNALS_PER_RUN = 5


def _settings(tmp_path: Path, url: str) -> Settings:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "late.yaml").write_text(RULES)
    return Settings(data_dir=tmp_path / "data", database_url=url, rules_dir=rules, topic_partitions=2,
                    app_id=f"retain-decide-{uuid.uuid4().hex[:8]}", stream_tick_interval_seconds=0.5)


def _signal(customer_id: str, detected_at: dt.datetime) -> bytes:
    signal = Signal(kind="shipping_delay", customer_id=customer_id, episode_key=f"ship:{customer_id}:o1",
                    detected_at=detected_at, reason="eta_slip", attributes={"slip_hours": 30},
                    context={"customer": {"time_zone": "UTC", "email": f"{customer_id}@example.org"}})
    return json.dumps(signal.to_dict()).encode()


def _decisions(engine: Engine, run: str) -> dict[str, list[tuple[str, str]]]:
    with Session(engine) as session:
        rows = session.execute(select(DecisionRecord.customer_id, DecisionRecord.outcome, DecisionRecord.reason)
                               .where(DecisionRecord.customer_id.like(f"{run}-%"))).all()
    found: dict[str, list[tuple[str, str]]] = {}
    for customer, outcome, reason in rows:
        found.setdefault(customer, []).append((outcome, reason))
    return found


async def _publish(bootstrap: str, values: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in values:
            await producer.send(SIGNALS, value, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_valid_signals_wait_out_the_outage_and_are_decided_once(broker, breakable_engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Faust keeps its app directory in the working directory
    breakable, engine = breakable_engine
    settings = _settings(tmp_path, breakable.url)
    await ensure_topics(broker.bootstrap, topic_partitions(settings))
    run = uuid.uuid4().hex[:6]
    now = dt.datetime.now(dt.timezone.utc)
    fresh = [f"{run}-c{i}" for i in range(SIGNALS_PER_RUN)]
    expiring = f"{run}-expiring"  # relevance (1h) runs out a few seconds into the outage
    expiry = now - dt.timedelta(hours=1) + dt.timedelta(seconds=3)
    health = Health()
    worker = build_worker(settings, broker_url=broker.url, health=health)
    async with InProcessWorker(worker):
        await wait_for(lambda: health.ready(), 60, lambda: f"the stage ready: {health.problems()}")
        breakable.start_outage()
        await _publish(broker.bootstrap, [(c, _signal(c, now - dt.timedelta(minutes=5))) for c in fresh]
                       + [(expiring, _signal(expiring, expiry - dt.timedelta(hours=1)))]
                       + [(f"{run}-poison", b'{"kind": "shipping_delay"}')])  # not a signal: its own fault
        await wait_for(lambda: "triggers.decide" in health.problems(), 60, "the outage reported")
        await wait_for(lambda: dt.datetime.now(dt.timezone.utc) > expiry, 10, "the expiring signal's moment")
        breakable.end_outage()
        await wait_for(lambda: len(_decisions(engine, run)) == SIGNALS_PER_RUN + 1, 90,
                       lambda: f"every signal decided: {_decisions(engine, run)}; {health.problems()}")
        await wait_for(lambda: health.ready(), 30, lambda: f"ok again: {health.problems()}")
    decided = _decisions(engine, run)
    assert {c: decided[c] for c in fresh} == {c: [("engage", "eligible")] for c in fresh}
    assert decided[expiring] == [("expired", "relevance_passed")]
    # Only the poison record was dead-lettered (the module's broker also holds earlier tests' signals).
    dead = await read_json_topic(broker.bootstrap, DEADLETTER, settings.topic_partitions,
                                 lambda rs: any(r["key"] == f"{run}-poison" for r in rs))
    assert [r["key"] for r in dead if r["key"].startswith(run)] == [f"{run}-poison"]


async def _committed(bootstrap: str, group: str, partitions: int) -> dict[int, int | None]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(SIGNALS, p)) for p in range(partitions)}
    finally:
        await consumer.stop()


async def test_a_stop_during_the_outage_commits_nothing_undecided(broker, breakable_engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    breakable, engine = breakable_engine
    settings = _settings(tmp_path, breakable.url)
    await ensure_topics(broker.bootstrap, topic_partitions(settings))
    run = uuid.uuid4().hex[:6]
    now = dt.datetime.now(dt.timezone.utc)
    customers = [f"{run}-c{i}" for i in range(SIGNALS_PER_RUN)]

    health = Health()
    async with InProcessWorker(build_worker(settings, broker_url=broker.url, health=health)):
        await wait_for(lambda: health.ready(), 60, lambda: f"the stage ready: {health.problems()}")
        breakable.start_outage()
        await _publish(broker.bootstrap, [(c, _signal(c, now - dt.timedelta(minutes=5))) for c in customers])
        await wait_for(lambda: "triggers.decide" in health.problems(), 60, "the outage reported")
    # Stopped gracefully while the batch waited: nothing decided, and its offsets were not committed.
    breakable.end_outage()
    assert _decisions(engine, run) == {}

    health = Health()
    async with InProcessWorker(build_worker(settings, broker_url=broker.url, health=health)):
        await wait_for(lambda: len(_decisions(engine, run)) == SIGNALS_PER_RUN, 90,
                       lambda: f"every signal decided after the restart: {_decisions(engine, run)}")
    assert _decisions(engine, run) == {c: [("engage", "eligible")] for c in customers}
