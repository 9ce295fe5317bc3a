"""The local sink (embedded default): stores rendered messages instead of sending them.

It answers ``lookup`` exactly, so a crash after a sink "send" is reconciled, not held. What it
took is kept in a ledger: ``SqlSinkLedger`` (the runtime's, one row per message in
``sink_deliveries``, committed before ``send`` returns) survives a restart, so a row killed in
``sending`` is reconciled as sent after its lease and never delivered twice; ``MemoryLedger``
serves tests and tools without a database. The demo reads ``delivered`` (this process's
messages) to let simulated customers react.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from infra.database import dialect_insert, utcnow
from outreach.channels.base import OutgoingMessage, SendResult
from outreach.channels.records import SinkDeliveryRecord

log = logging.getLogger(__name__)


class SinkLedger(Protocol):
    """Where the sink remembers what it took."""

    def record(self, message: OutgoingMessage, result: SendResult) -> SendResult:
        """Keep ``result`` for the message unless one is kept already; returns the kept one."""
        ...

    def find(self, message_id: str) -> SendResult | None:
        """The kept result, or None when the message never reached the sink."""
        ...


class MemoryLedger:
    """A ledger in this process's memory (gone with it)."""

    def __init__(self) -> None:
        self._by_message_id: dict[str, SendResult] = {}

    def record(self, message: OutgoingMessage, result: SendResult) -> SendResult:
        """Keep the first result per message id."""
        return self._by_message_id.setdefault(message.message_id, result)

    def find(self, message_id: str) -> SendResult | None:
        """The kept result, if any."""
        return self._by_message_id.get(message_id)


class SqlSinkLedger:
    """A ledger in the database: one committed ``sink_deliveries`` row per message."""

    provider = "sink"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, message: OutgoingMessage, result: SendResult) -> SendResult:
        """Insert the row (a second insert for the same message keeps the first) and commit."""
        table = SinkDeliveryRecord.__table__
        with Session(self.engine) as session:
            session.execute(dialect_insert(session, table).values(
                message_id=message.message_id, channel=message.channel, rule_id=message.rule_id,
                topic=message.topic, provider_message_id=result.provider_message_id, delivered_at=utcnow(),
            ).on_conflict_do_nothing(index_elements=["message_id"]))
            session.commit()
        found = self.find(message.message_id)
        assert found is not None  # just committed
        return found

    def find(self, message_id: str) -> SendResult | None:
        """The stored row as a result, or None."""
        with Session(self.engine) as session:
            row = session.get(SinkDeliveryRecord, message_id)
            return SendResult(provider=self.provider, provider_message_id=row.provider_message_id) if row else None


class SinkChannel:
    """A channel that keeps every message it was given (in its ledger; this process's in ``delivered``)."""

    provider = "sink"

    def __init__(self, name: str, ledger: SinkLedger | None = None):
        self.name = name
        self.ledger: SinkLedger = ledger if ledger is not None else MemoryLedger()
        self.delivered: list[OutgoingMessage] = []
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        """Store the message (once per message id) and report it accepted."""
        with self._lock:
            fresh = SendResult(provider=self.provider, provider_message_id=f"sink-{uuid.uuid4().hex[:16]}")
            kept = self.ledger.record(message, fresh)
            if kept.provider_message_id != fresh.provider_message_id:
                return kept  # taken before (by this process or one before it): not delivered again
            self.delivered.append(message)
        log.info("sink %s message %s for rule %s: %s", self.name, message.message_id, message.rule_id,
                 message.subject or message.body[:60])
        return kept

    def lookup(self, message_id: str) -> SendResult | None:
        """The stored result, or None when the message never reached the sink."""
        with self._lock:
            return self.ledger.find(message_id)
