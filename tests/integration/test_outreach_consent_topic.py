"""Consent changes reach the ``consent`` topic on the real embedded broker, keyed by customer."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from outreach.consent.publisher import KafkaConsentPublisher
from outreach.consent.service import ConsentChange
from infra.broker import EmbeddedBroker, ensure_topics
from tests.topics import read_topic

pytestmark = pytest.mark.integration





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
        return await read_topic(broker.bootstrap, "consent", len(changes))

    with EmbeddedBroker(tmp_path / "broker") as broker:
        asyncio.run(ensure_topics(broker.bootstrap, {"consent": 2}))
        records = asyncio.run(scenario())
    assert sorted((r.key.decode(), json.loads(r.value)["change_id"]) for r in records) == [
        ("c0", "ch0"), ("c1", "ch1"), ("c2", "ch2")]
