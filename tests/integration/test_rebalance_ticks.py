"""After a rebalance, ticks still fire for everyone, even when a recovered state is poison.

Issue 10 finding 1: after the next rebalance ``_rebuild_due_index`` raised on one customer's bad
state, so no checkout_idle or usage_drop fired for any customer of that worker while /readyz
said ready. Here a state the fold cannot read (as an older version might have written it) sits
in the changelog; a second worker joins (both recover their partitions from the changelog) and
later leaves. The bad customer is quarantined (announced on the ``quarantine`` topic) and every
other customer's idle checkout is signalled, once, before and after each rebalance.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from infra.broker import ensure_topics
from infra.settings import Settings
from infra.stream_app import topic_partitions
from retain.worker import WorkerProcess
from tests.topics import TopicCollector
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS = 16
FAST_GROUP = {"RETAIN_STREAM_SESSION_TIMEOUT_SECONDS": "6", "RETAIN_STREAM_REBALANCE_TIMEOUT_SECONDS": "6"}


def started(customer: str, checkout: str) -> bytes:
    at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)  # the idle deadline has passed
    return json.dumps({"event_id": f"{customer}-{checkout}", "customer_id": customer, "type": "checkout.started",
                       "occurred_at": at.isoformat(), "properties": {"checkout_id": checkout}}).encode()


async def test_ticks_survive_rebalances_and_a_poison_state(broker, tmp_path):
    settings = Settings()
    partitions = settings.topic_partitions
    await ensure_topics(broker.bootstrap, topic_partitions(settings))
    run = uuid.uuid4().hex[:8]
    app_id = f"retain-rebalance-{run}"
    env = {**FAST_GROUP, "RETAIN_APP_ID": app_id, "RETAIN_DATA_DIR": str(tmp_path)}
    every = list(range(partitions))
    customers = [f"{run}-c{i}" for i in range(CUSTOMERS)]
    bad = f"{run}-bad"
    a = WorkerProcess(broker_url=broker.url, data_dir=tmp_path, name="a", signals_only=True, env=env).start()
    b = WorkerProcess(broker_url=broker.url, data_dir=tmp_path, name="b", signals_only=True, env=env)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        async with TopicCollector(broker.bootstrap, "signals", partitions) as signals, \
                TopicCollector(broker.bootstrap, "quarantine", partitions) as notices:
            def episodes() -> list[str]:
                return [s["episode_key"] for s in signals.values if s["customer_id"].startswith(run)]

            async def idle_checkouts(checkout: str) -> None:
                for c in customers:
                    await producer.send("events", started(c, checkout), key=c.encode())
                await producer.flush()
                want = {f"checkout_idle:{c}:{checkout}" for c in customers}
                await wait_for(lambda: want <= set(episodes()), 60, f"every {checkout} signalled")

            await wait_for(lambda: (a.stats() or {}).get("partitions") == every, 90, "worker a owns every partition")
            await idle_checkouts("k1")

            # A state the fold cannot read, in the changelog partition the customer's events use.
            changelog = f"{app_id}-customer_state-changelog"
            partition = DefaultPartitioner()(bad.encode(), every, every)
            corrupt = {"customer_id": bad, "watermark": None, "seen": [], "detectors": "garbage"}
            await producer.send_and_wait(changelog, json.dumps(corrupt).encode(), key=bad.encode(), partition=partition)

            b.start()  # join: both recover their partitions from the changelog and rebuild their due index

            def split() -> bool:
                pa, pb = (a.stats() or {}).get("partitions"), (b.stats() or {}).get("partitions")
                return bool(pa) and bool(pb) and sorted(pa + pb) == every

            await wait_for(split, 90, "a and b share the partitions")
            await wait_for(lambda: any(n["customer_id"] == bad for n in notices.values), 60, "the bad state quarantined")
            assert [n["stage"] for n in notices.values if n["customer_id"] == bad][-1] == "signals.deadline"
            await idle_checkouts("k2")  # ticks fire on both workers, the poison one's partition included

            assert b.terminate() == 0  # leave: a takes every partition again
            await wait_for(lambda: (a.stats() or {}).get("partitions") == every, 90, "a owns every partition again")
            await idle_checkouts("k3")
            assert sorted(episodes()) == sorted(f"checkout_idle:{c}:{k}" for c in customers for k in ("k1", "k2", "k3"))
    finally:
        await producer.stop()
        a.terminate()
        b.terminate()
