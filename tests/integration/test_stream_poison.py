"""Poison on the real broker: every kind lands in ``deadletter`` with reason and stage, the batch goes on.

Issue 10 findings 1 and 3, through the real worker: a far-future event used to crash the agent
(``OverflowError`` out of ``fold_batch``) and lose its batch; 900 KB of ``\\x01`` bytes made a
dead-letter record too large for the producer and crashed it too. Here they sit in one load with
every other kind of poison, between good events whose signals must still come out. A customer
whose state the worker cannot handle is quarantined (visible in SQL through the projection) and
released through the CLI's control record, its held events folded.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlmodel import Session

from infra.health import Health
from infra.broker import EmbeddedBroker, ensure_topics
from infra.database import make_engine
from infra.settings import Settings
from infra.stream_app import topic_partitions
from infra.supervisor import Supervisor
from retain.console.customer import customer_timeline
from retain.migrations import migrate
from retain.quarantine_cli import _send as send_control
from retain.worker import InProcessWorker, build_worker
from signals.projection import Projection
from signals.quarantine import release_request
from signals.quarantine_store import quarantine_of
from tests.topics import TopicCollector, read_json_topic
from tests.unit.signals.test_stream_batch import BrittleFold
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

AGO = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)  # idle deadlines already passed


def event(run: str, customer: str, n: int, type_: str = "checkout.started", at: dt.datetime = AGO,
          **props: Any) -> dict:
    props = props or {"checkout_id": f"k{n}"}
    return {"event_id": f"{run}-{customer}-{n}", "customer_id": f"{run}-{customer}", "type": type_,
            "occurred_at": at.isoformat(), "properties": props}


def encoded(value: dict) -> bytes:
    return json.dumps(value).encode()


async def test_every_kind_of_poison_is_dead_lettered_and_the_good_events_still_signal(broker):
    settings = Settings()
    await ensure_topics(broker.bootstrap, topic_partitions(settings))
    run = uuid.uuid4().hex[:8]
    worker = build_worker(settings, broker_url=broker.url, app_id=f"retain-poison-{run}", decisions=False)
    good = [event(run, f"good{i}", 1) for i in range(6)]
    poison = [  # (payload, key, stage, part of the reason)
        (b"{this is not json", "p1", "signals.parse", "Invalid JSON"),
        (b"\xff\xfe\x00 not utf-8", "p2", "signals.parse", "invalid event"),
        (encoded({**event(run, "p3", 1), "properties": {}}), "p3", "signals.parse", "properties.checkout_id"),
        (encoded(event(run, "p4", 1)), "someone-else", "signals.key", "does not match customer_id"),
        (b"\x01" * 900 * 1024, "p5", "signals.parse", "invalid event"),  # fits the broker, not escaped
        (encoded(event(run, "p6", 1, at=dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc))), "p6",
         "signals.event_time", "in the future"),
        (encoded(event(run, "p7", 1, checkout_id="k", items=10**40)), "p7", "signals.parse", "less than or equal"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        async with InProcessWorker(worker):
            for index, (payload, key, _, _) in enumerate(poison):  # poison in between the good ones
                good_event = good[index % len(good)]
                await producer.send("events", encoded(good_event), key=good_event["customer_id"].encode())
                await producer.send("events", payload, key=f"{run}-{key}".encode())
            for later in good:  # and each good customer's next event after all of it
                second = event(run, later["customer_id"].split("-", 1)[1], 2)
                await producer.send("events", encoded(second), key=second["customer_id"].encode())
            await producer.flush()
            total = len(poison) * 2 + len(good)
            await wait_for(lambda: worker.counters()["events"] >= total, 60, "every record handled")
            want = {f"checkout_idle:{e['customer_id']}:k{n}" for e in good for n in (1, 2)}
            await wait_for(lambda: worker.counters()["signals_total"] >= len(want), 30, "the good events' signals")
            health = worker.counters()["health"]
            assert health["ready"], health["problems"]  # nothing crashed, ticks alive
            assert health["parts"]["signals.agent"]["restarts"] == 0
    finally:
        await producer.stop()

    signals = await read_json_topic(broker.bootstrap, "signals", settings.topic_partitions,
                                    lambda values: len([s for s in values if s["customer_id"].startswith(run)]) >= len(want))
    assert sorted(s["episode_key"] for s in signals if s["customer_id"].startswith(run)) == sorted(want)
    dead = await read_json_topic(broker.bootstrap, "deadletter", settings.topic_partitions,
                                 lambda values: len([d for d in values if (d["key"] or "").startswith(run)]) >= len(poison))
    mine = {d["key"]: d for d in dead if (d["key"] or "").startswith(run)}
    for payload, key, stage, reason in poison:
        record = mine[f"{run}-{key}"]
        assert (record["stage"], record["source"]["topic"]) == (stage, "events"), record["reason"]
        assert reason in record["reason"]
        assert record["payload_bytes"] == len(payload)
    big = mine[f"{run}-p5"]
    assert big["payload_truncated"] is True and len(json.dumps(big)) <= 512 * 1024


async def test_a_broken_customer_is_quarantined_visible_in_sql_and_released_by_the_cli(tmp_path):
    settings = Settings(data_dir=tmp_path)
    run = uuid.uuid4().hex[:8]
    fold = BrittleFold()
    engine = make_engine(settings)
    migrate(engine)
    broken = f"{run}-broken"
    with EmbeddedBroker(tmp_path / "broker") as broker:  # its own topics: no other test's events
        await ensure_topics(broker.bootstrap, topic_partitions(settings))
        worker = build_worker(settings, broker_url=broker.url, app_id=f"retain-quarantine-{run}", decisions=False,
                              fold=fold)
        projection = Projection(engine, broker.bootstrap, group_id=f"projection-{run}")
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        projection_run = Supervisor(Health()).start("signals.projection", projection.run)
        try:
            async with InProcessWorker(worker), TopicCollector(broker.bootstrap, "signals",
                                                               settings.topic_partitions) as signals:
                for value in (event(run, "broken", 1), event(run, "broken", 2, "customer.profile", plan="deadline"),
                              event(run, "broken", 3, checkout_id="k3"), event(run, "fine", 1)):
                    await producer.send("events", encoded(value), key=value["customer_id"].encode())
                await producer.flush()
                await wait_for(lambda: worker.counters()["quarantined"] == 1, 60, "the broken customer quarantined")

                def stored() -> dict | None:
                    with Session(engine) as session:
                        return quarantine_of(session=session, customer_id=broken)

                row = await wait_for(lambda: (stored() or {}).get("held") == 2 and stored(), 30, "the quarantine in SQL")
                assert row["status"] == "quarantined" and row["stage"] == "signals.deadline"
                assert row["release_command"] == f"retain quarantine release {broken}"
                with Session(engine) as session:
                    page = customer_timeline(session=session, customer_id=broken, now=dt.datetime.now(dt.timezone.utc))
                assert page["quarantine"]["reason"].startswith("RuntimeError: deadline bug")

                def episodes(customer: str) -> list[str]:
                    return sorted(s["episode_key"] for s in signals.values if s["customer_id"] == customer)

                await wait_for(lambda: episodes(f"{run}-fine"), 30, "the other customer's signal")
                assert episodes(broken) == []  # nothing detected while quarantined

                fold.fixed = True  # the fix is deployed; an operator releases the customer
                key, value, headers = release_request(broken, reset=False, requested_by="test",
                                                      now=dt.datetime.now(dt.timezone.utc))
                await send_control(broker.bootstrap, key, value, headers)
                await wait_for(lambda: (stored() or {}).get("status") == "released", 60, "the release in SQL")
                await wait_for(lambda: len(episodes(broken)) >= 2, 30, "the held checkouts' signals")
                assert episodes(broken) == [f"checkout_idle:{broken}:k1", f"checkout_idle:{broken}:k3"]
        finally:
            await projection_run.stop()
            await producer.stop()
            engine.dispose()
