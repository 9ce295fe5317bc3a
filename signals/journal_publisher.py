"""The single-box ingest publisher: events go to the SQL journal, and the relay takes them on.

With the embedded broker (memory only) an event acknowledged by the broker would be gone after a
crash. ``JournalPublisher.publish`` writes the batch to the ingest journal in one transaction
(``infra.journal``); once it returns the events are committed, so the 202 that follows is
durable, and it needs only the database: ingest answers before the broker and the worker run.
The relay (``infra.journal_relay``) produces the rows to ``events`` in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from infra import journal
from infra.database import ping, session_scope, utcnow
from infra.stream_app import EVENTS
from signals.publisher import DEFAULT_MAX_RECORD_BYTES, EventRecord, PublishError, refuse_oversized

UNAVAILABLE = "ingest journal (the database)"


class JournalPublisher:
    """An ``EventPublisher`` that commits events to the ingest journal."""

    def __init__(self, engine: Engine, *, topic: str = EVENTS, timeout: float = 5.0,
                 on_append: Callable[[], None] | None = None,
                 max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
        # The relay produces these records to the broker later: one it could never send must be
        # refused now (413), not acknowledged and then stuck in the journal.
        self.max_record_bytes = max_record_bytes
        self.engine = engine
        self.topic = topic
        self.timeout = timeout
        self.on_append = on_append  # e.g. the relay's ``notify``
        self.appended = 0

    async def publish(self, records: Sequence[EventRecord]) -> None:
        """Commit every record (keyed by customer_id) in one transaction; PublishError when it fails."""
        if not records:
            return
        refuse_oversized(records, self.max_record_bytes)
        rows = [(record.key, record.value) for record in records]
        try:
            await asyncio.wait_for(asyncio.to_thread(self._append, rows), self.timeout)
        except asyncio.TimeoutError as exc:
            # The thread may still commit: the client retries, and the fold drops the duplicates.
            raise PublishError(f"journal write of {len(rows)} events took longer than {self.timeout}s",
                               unavailable=UNAVAILABLE) from exc
        except Exception as exc:  # noqa: BLE001 - any database failure means "not acknowledged"
            raise PublishError(f"journal write failed: {type(exc).__name__}", unavailable=UNAVAILABLE) from exc
        self.appended += len(rows)
        if self.on_append is not None:
            self.on_append()

    def _append(self, records: list[tuple[bytes, bytes]]) -> None:
        with session_scope(self.engine) as session:
            journal.append(session=session, topic=self.topic, records=records, now=utcnow())
            session.commit()

    async def check(self) -> None:
        """Raise PublishError unless the database answers."""
        try:
            await asyncio.wait_for(asyncio.to_thread(ping, self.engine), self.timeout)
        except Exception as exc:  # noqa: BLE001
            raise PublishError(f"database not answering: {type(exc).__name__}", unavailable=UNAVAILABLE) from exc

    async def stop(self) -> None:
        """Nothing to release (the engine belongs to the runtime)."""
