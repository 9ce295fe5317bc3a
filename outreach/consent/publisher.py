"""Publishing consent changes to the ``consent`` topic: a port, an in-memory fake, a Kafka adapter.

Callers publish after their transaction committed, so the topic never announces a change the
database does not hold. Records are keyed by customer id, like every other topic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from outreach.consent.service import ConsentChange


class ConsentPublisher(Protocol):
    """Where consent changes go once committed."""

    async def publish(self, changes: Sequence[ConsentChange]) -> None:
        """Write every change; raise when the destination did not acknowledge them."""
        ...


class InMemoryConsentPublisher:
    """Keeps published changes in a list (the embedded default without a broker, and tests)."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, changes: Sequence[ConsentChange]) -> None:
        """Append the changes."""
        self.published.extend(change.to_dict() for change in changes)


class KafkaConsentPublisher:
    """Publishes to Kafka with aiokafka (acks=all); the producer starts on first use."""

    def __init__(self, bootstrap: str, topic: str = "consent", *, timeout: float = 5.0):
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout = timeout
        self._producer: Any = None

    async def publish(self, changes: Sequence[ConsentChange]) -> None:
        """Send each change keyed by customer id and wait for the broker's acknowledgement."""
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", request_timeout_ms=int(self.timeout * 1000)
            )
            await self._producer.start()
        for change in changes:
            await self._producer.send_and_wait(
                self.topic, json.dumps(change.to_dict()).encode(), key=change.customer_id.encode()
            )

    async def stop(self) -> None:
        """Flush and close the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
