"""Publishing validated events to the ``events`` topic: a small port, a Kafka adapter, a fake.

``publish`` returns only once the broker acknowledged every record (``acks="all"``), or raises
``PublishError``. A batch is not atomic: when it fails halfway some events may already be on the
topic, so the client retries the whole batch; that is safe because every consumer de-duplicates by
``event_id``. Transactions would make a batch all-or-nothing, but the embedded Tansu broker
(memory storage) refuses ``InitProducerId``, which both idempotent and transactional producers
need. ``KafkaEventPublisher`` therefore asks for idempotence and falls back to plain ``acks=all``
when the broker refuses it; a real Kafka gets idempotent writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Protocol

from signals.events import event_to_json

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not acknowledge every event (unreachable, refused or too slow)."""


class EventPublisher(Protocol):
    """Where validated events go; the HTTP API depends on this, not on Kafka."""

    async def publish(self, events: Sequence[Any]) -> None:
        """Write every event, keyed by customer_id; raise PublishError unless all were acknowledged."""
        ...

    async def check(self) -> None:
        """Raise PublishError when the destination is not reachable right now."""
        ...


class KafkaEventPublisher:
    """Publishes events with aiokafka; connects lazily so a broker that is down now can recover."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = "events",
        *,
        timeout: float = 5.0,
        enable_idempotence: bool | None = None,
        client_id: str = "retain-ingest",
    ):
        """``enable_idempotence=None`` tries idempotence and falls back when the broker refuses it."""
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout = timeout
        self.enable_idempotence = enable_idempotence
        self.client_id = client_id
        self.idempotent: bool | None = None  # what the running producer actually uses
        self._producer: Any = None
        self._lock = asyncio.Lock()

    def _make_producer(self, idempotent: bool) -> Any:
        from aiokafka import AIOKafkaProducer

        timeout_ms = int(self.timeout * 1000)
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=idempotent,
            request_timeout_ms=timeout_ms,
            retry_backoff_ms=100,
            metadata_max_age_ms=30_000,
        )

    async def _start_producer(self, idempotent: bool) -> Any:
        producer = self._make_producer(idempotent)
        try:
            await asyncio.wait_for(producer.start(), self.timeout)
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def start(self) -> None:
        """Connect to the broker; raises PublishError when it cannot."""
        from aiokafka.errors import KafkaError

        async with self._lock:
            if self._producer is not None:
                return
            want = self.enable_idempotence is not False
            try:
                try:
                    self._producer = await self._start_producer(want)
                    self.idempotent = want
                except KafkaError as exc:
                    if not want or self.enable_idempotence is True:
                        raise
                    # Tansu (and some managed Kafkas) refuse InitProducerId: plain acks=all it is.
                    log.info("broker %s refused idempotent producers (%s); using acks=all", self.bootstrap, exc)
                    self._producer = await self._start_producer(False)
                    self.idempotent = False
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                raise PublishError(f"cannot connect to the broker at {self.bootstrap}: {exc!r}") from exc

    async def stop(self) -> None:
        """Flush and disconnect."""
        async with self._lock:
            producer, self._producer = self._producer, None
            if producer is not None:
                await producer.stop()

    async def publish(self, events: Sequence[Any]) -> None:
        """Send all events keyed by customer_id and wait for every acknowledgement."""
        if not events:
            return
        await self.start()
        try:
            await asyncio.wait_for(self._send_all(events), self.timeout)
        except asyncio.TimeoutError as exc:
            raise PublishError(f"broker did not acknowledge {len(events)} events within {self.timeout}s") from exc
        except PublishError:
            raise
        except Exception as exc:  # noqa: BLE001 - any producer failure means "not acknowledged"
            raise PublishError(f"broker refused the events: {exc!r}") from exc

    async def _send_all(self, events: Sequence[Any]) -> None:
        producer = self._producer
        if producer is None:
            raise PublishError("publisher stopped while publishing")
        # send() only queues the record; the returned futures resolve on the broker's ack.
        futures = [
            await producer.send(self.topic, value=event_to_json(event), key=event.customer_id.encode())
            for event in events
        ]
        await asyncio.gather(*futures)

    async def check(self) -> None:
        """Raise PublishError unless the broker answers a metadata request for the topic."""
        await self.start()
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), self.timeout)
        except Exception as exc:  # noqa: BLE001
            raise PublishError(f"broker at {self.bootstrap} is not answering: {exc!r}") from exc

    async def __aenter__(self) -> "KafkaEventPublisher":
        try:
            await self.start()
        except PublishError:
            log.warning("broker %s not reachable yet; will retry on the first publish", self.bootstrap)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


class InMemoryEventPublisher:
    """A fake publisher for tests and the offline demo: keeps what it was given, or fails on demand."""

    def __init__(self) -> None:
        self.published: list[Any] = []
        self.fail_with: str | None = None  # set to a reason to simulate a broker outage

    async def publish(self, events: Sequence[Any]) -> None:
        """Keep the events, or raise PublishError when ``fail_with`` is set (keeping none)."""
        if self.fail_with is not None:
            raise PublishError(self.fail_with)
        self.published.extend(events)

    async def check(self) -> None:
        """Raise PublishError when ``fail_with`` is set."""
        if self.fail_with is not None:
            raise PublishError(self.fail_with)
