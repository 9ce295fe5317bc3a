"""Two worker processes on one broker split the partitions; on SIGTERM the survivor takes over.

The proof that state moved (not just partitions): after the failover every customer's first
event is re-sent with the same event_id. A survivor that recovered the customer's state from the
changelog ignores it (dedup by event_id, checkout already signalled); one that did not would
re-open the checkout and emit its signal a second time. Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from infra.broker import ensure_topics
from infra.settings import Settings
from infra.stream_app import topic_partitions
from retain.worker import WorkerProcess
from tests.waiting import wait_for
from tests.topics import TopicCollector

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CUSTOMERS = 24
FAST_GROUP = {
    # Short group timeouts keep the test quick; the defaults (10 s) work the same, only slower.
    "RETAIN_STREAM_SESSION_TIMEOUT_SECONDS": "6",
    "RETAIN_STREAM_REBALANCE_TIMEOUT_SECONDS": "6",
}




def seen_episodes(collector: TopicCollector, prefix: str) -> Counter:
    """How often each episode's signal was seen, for the customers of one run."""
    return Counter(s["episode_key"] for s in collector.values if s["customer_id"].startswith(prefix))



def started(customer: str, event_id: str, checkout_id: str, at: dt.datetime) -> bytes:
    return json.dumps({"event_id": event_id, "customer_id": customer, "type": "checkout.started",
                       "occurred_at": at.isoformat(), "properties": {"checkout_id": checkout_id}}).encode()


async def test_survivor_takes_over_state_without_losing_or_duplicating_signals(broker, tmp_path):
    settings = Settings()
    await ensure_topics(broker.bootstrap, topic_partitions(settings))
    run = uuid.uuid4().hex[:8]
    env = {**FAST_GROUP, "RETAIN_APP_ID": f"retain-scale-{run}", "RETAIN_DATA_DIR": str(tmp_path)}
    a = WorkerProcess(broker_url=broker.url, data_dir=tmp_path, name="a", signals_only=True, env=env).start()
    b = WorkerProcess(broker_url=broker.url, data_dir=tmp_path, name="b", signals_only=True, env=env).start()
    all_partitions = list(range(settings.topic_partitions))
    try:
        def split() -> bool:
            pa, pb = (a.stats() or {}).get("partitions"), (b.stats() or {}).get("partitions")
            return bool(pa) and bool(pb) and sorted(pa + pb) == all_partitions

        await wait_for(split, 90, "both workers to own a share of the partitions")

        customers = [f"{run}-c{i}" for i in range(CUSTOMERS)]
        long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)  # idle deadline already passed
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        async with TopicCollector(broker.bootstrap, "signals", settings.topic_partitions) as collector:
            try:
                for c in customers:
                    await producer.send("events", started(c, f"{c}-e1", "k1", long_ago), key=c.encode())
                await producer.flush()
                first = {f"checkout_idle:{c}:k1" for c in customers}
                await wait_for(lambda: set(seen_episodes(collector, run)) >= first, 60, "phase-1 signals")
                share_a = (a.stats() or {}).get("events", 0)
                share_b = (b.stats() or {}).get("events", 0)
                assert share_a > 0 and share_b > 0  # both workers really worked

                assert b.terminate() == 0  # graceful: commits, flushes, leaves the group

                for c in customers:
                    # the same event again (same id), then a new checkout
                    await producer.send("events", started(c, f"{c}-e1", "k1", long_ago), key=c.encode())
                    await producer.send("events", started(c, f"{c}-e2", "k2", long_ago), key=c.encode())
                await producer.flush()

                await wait_for(lambda: (a.stats() or {}).get("partitions") == all_partitions, 90,
                               "the survivor to own every partition")
                second = {f"checkout_idle:{c}:k2" for c in customers}
                await wait_for(lambda: set(seen_episodes(collector, run)) >= second, 60, "phase-2 signals")
                # Everything sent has been folded and a tick has run since: no late signal can follow.
                await wait_for(lambda: (a.stats() or {}).get("events", 0) >= share_a + 2 * CUSTOMERS, 30,
                               "the survivor to fold every phase-2 event")
                ticks = (a.stats() or {}).get("ticks", 0)
                await wait_for(lambda: (a.stats() or {}).get("ticks", 0) >= ticks + 2, 30, "two more ticks")
            finally:
                await producer.stop()

        episodes = seen_episodes(collector, run)
        assert set(episodes) == first | second  # nothing lost
        assert [k for k, n in episodes.items() if n > 1] == []  # nothing duplicated
    finally:
        a.terminate()
        b.terminate()
