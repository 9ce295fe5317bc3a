"""Consent changes reach the ``consent`` topic on the real embedded broker, keyed by customer."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest
from aiokafka import AIOKafkaConsumer

from outreach.consent.publisher import KafkaConsentPublisher
from outreach.consent.service import ConsentChange
from retain.broker import EmbeddedBroker, ensure_topics

pytestmark = pytest.mark.integration


async def _read(bootstrap: str, count: int, timeout: float = 15.0) -> list:
    consumer = AIOKafkaConsumer("consent", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            records.extend(r for batch in batches.values() for r in batch)
    finally:
        await consumer.stop()
    return records


def test_consent_changes_are_published(tmp_path):
    changes = [
        ConsentChange(change_id=f"ch{i}", customer_id=f"c{i}", channel="sms", topic="*", status="opted_out",
                      source="sms_keyword", changed_at=dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc).isoformat())
        for i in range(3)
    ]

    async def scenario() -> list:
        publisher = KafkaConsentPublisher(broker.bootstrap)
        try:
            await publisher.publish(changes)
        finally:
            await publisher.stop()
        return await _read(broker.bootstrap, len(changes))

    with EmbeddedBroker(tmp_path / "broker") as broker:
        asyncio.run(ensure_topics(broker.bootstrap, {"consent": 2}))
        records = asyncio.run(scenario())
    assert sorted((r.key.decode(), json.loads(r.value)["change_id"]) for r in records) == [
        ("c0", "ch0"), ("c1", "ch1"), ("c2", "ch2")]
