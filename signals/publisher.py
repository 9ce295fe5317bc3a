"""Publishing validated events to the ``events`` topic: a small port, a Kafka adapter, a fake.

An event becomes an ``EventRecord`` first (``encode_event``): its key, its value as standard JSON,
and its size as the Kafka producer counts it. Callers check every record against the publisher's
``max_record_bytes`` before publishing any, so an event that can never be sent is refused up
front and never half of a batch goes out (the ingest API answers 413 naming the event).

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
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from signals.events import event_to_json

log = logging.getLogger(__name__)

# The Kafka producer's default max_request_size; one record (with its batch header) must fit in it.
DEFAULT_MAX_RECORD_BYTES = 1_048_576


class PublishError(RuntimeError):
    """The broker did not acknowledge every event (unreachable, refused or too slow).

    ``retriable`` is False when sending the same records again cannot succeed (the broker refused
    one as too large: ``oversized_index`` names it); the caller must not answer "retry" then.
    ``unavailable`` names the store that failed (the broker, or the ingest journal in SQL).
    """

    def __init__(self, message: str, *, retriable: bool = True, oversized_index: int | None = None,
                 unavailable: str = "event broker"):
        super().__init__(message)
        self.retriable = retriable
        self.oversized_index = oversized_index
        self.unavailable = unavailable  # what the client is told was down: where a 202 would have put the events


@dataclass(frozen=True)
class EventRecord:
    """One event as it goes on the topic: partition key, standard-JSON value, size as the producer counts it."""

    event: Any
    key: bytes
    value: bytes

    @property
    def size(self) -> int:
        """Bytes the producer counts against ``max_request_size`` (record plus batch overhead)."""
        return DefaultRecordBatchBuilder.estimate_size_in_bytes(self.key, self.value, [])


def encode_event(event: Any) -> EventRecord:
    """The record of a validated event, keyed by its customer_id."""
    return EventRecord(event=event, key=event.customer_id.encode(), value=event_to_json(event))


def oversized(records: Sequence[EventRecord], limit: int) -> list[int]:
    """Indexes of the records larger than ``limit`` bytes: the producer would refuse each of them."""
    return [index for index, record in enumerate(records) if record.size > limit]


def refuse_oversized(records: Sequence[EventRecord], limit: int) -> None:
    # Checked before the first send, so nothing of a batch with an unsendable record goes out.
    too_large = oversized(records, limit)
    if too_large:
        raise PublishError(f"record {too_large[0]} is larger than {limit} bytes", retriable=False,
                           oversized_index=too_large[0])


class EventPublisher(Protocol):
    """Where validated events go; the HTTP API depends on this, not on Kafka."""

    max_record_bytes: int  # a record larger than this can never be published

    async def publish(self, records: Sequence[EventRecord]) -> None:
        """Write every record; raise PublishError unless all were acknowledged."""
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
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ):
        """``enable_idempotence=None`` tries idempotence and falls back when the broker refuses it."""
        self.max_record_bytes = max_record_bytes
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
            max_request_size=self.max_record_bytes,
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

    async def publish(self, records: Sequence[EventRecord]) -> None:
        """Send all records and wait for every acknowledgement."""
        if not records:
            return
        refuse_oversized(records, self.max_record_bytes)
        await self.start()
        try:
            await asyncio.wait_for(self._send_all(records), self.timeout)
        except asyncio.TimeoutError as exc:
            raise PublishError(f"broker did not acknowledge {len(records)} events within {self.timeout}s") from exc
        except PublishError:
            raise
        except Exception as exc:  # noqa: BLE001 - any producer failure means "not acknowledged"
            raise PublishError(f"broker refused the events: {exc!r}") from exc

    async def _send_all(self, records: Sequence[EventRecord]) -> None:
        from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

        producer = self._producer
        if producer is None:
            raise PublishError("publisher stopped while publishing")
        # send() only queues the record; the returned futures resolve on the broker's ack.
        futures = [await producer.send(self.topic, value=r.value, key=r.key) for r in records]
        results = await asyncio.gather(*futures, return_exceptions=True)
        for index, result in enumerate(results):
            if isinstance(result, (MessageSizeTooLargeError, RecordTooLargeError)):
                # The broker's own limit is below ours: resending cannot help (see ingest_max_event_bytes).
                raise PublishError(f"the broker refused record {index} as too large: {result!r}",
                                   retriable=False, oversized_index=index)
        for result in results:
            if isinstance(result, BaseException):
                raise result

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
    """A fake publisher for tests and the offline demo: keeps what it was given, or fails on demand.

    It refuses records over ``max_record_bytes`` as the Kafka producer does, keeping none of them.
    """

    def __init__(self, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
        self.max_record_bytes = max_record_bytes
        self.records: list[EventRecord] = []
        self.fail_with: str | None = None  # set to a reason to simulate a broker outage
        # Set to simulate a broker whose message.max.bytes is below max_record_bytes: the records
        # before the first larger one are kept, then it is refused (as Kafka answers RecordTooLarge).
        self.broker_limit: int | None = None

    @property
    def published(self) -> list[Any]:
        """The events of every record kept so far."""
        return [record.event for record in self.records]

    async def publish(self, records: Sequence[EventRecord]) -> None:
        """Keep the records, or raise PublishError when ``fail_with`` is set or one is too large (keeping none)."""
        if self.fail_with is not None:
            raise PublishError(self.fail_with)
        refuse_oversized(records, self.max_record_bytes)
        for index, record in enumerate(records):
            if self.broker_limit is not None and record.size > self.broker_limit:
                raise PublishError(f"the broker refused record {index} as too large", retriable=False,
                                   oversized_index=index)
            self.records.append(record)

    async def check(self) -> None:
        """Raise PublishError when ``fail_with`` is set."""
        if self.fail_with is not None:
            raise PublishError(self.fail_with)
