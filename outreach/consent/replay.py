"""The ``consent`` topic rebuilt from the consent history, for a broker that forgot it.

In the single-box mode the embedded broker starts empty, while ``consent_changes`` (append-only)
holds every change ever made. ``GatedConsentPublisher`` stands in front of the real publisher:
until ``open`` it publishes nothing (the broker is not up yet; the webhooks already answer), and
``open`` first lets changes through, then republishes the whole history from SQL. A change
committed before ``open`` is in the history it reads; one published after ``open`` goes out
directly. Repeats are harmless: every record carries its ``change_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select

from infra.database import session_scope
from outreach.consent.publisher import ConsentPublisher
from outreach.consent.records import ConsentChangeRecord
from outreach.consent.service import ConsentChange

log = logging.getLogger(__name__)


def change_from_record(record: ConsentChangeRecord) -> ConsentChange:
    """The published form of a stored consent change."""
    return ConsentChange(change_id=record.change_id, customer_id=record.customer_id, channel=record.channel,
                         topic=record.topic, status=record.status, source=record.source,
                         changed_at=record.changed_at.isoformat(), evidence=dict(record.evidence or {}))


Cursor = tuple[Any, str]  # (recorded_at, change_id) of the last change read


def history_page(engine: Engine, *, after: Cursor | None = None, limit: int = 5000) -> list[tuple[ConsentChange, Cursor]]:
    """Up to ``limit`` stored changes in the order they were recorded, after ``after``, with their cursors."""
    query = select(ConsentChangeRecord)
    if after is not None:
        at, change_id = after
        query = query.where((ConsentChangeRecord.recorded_at > at)
                            | ((ConsentChangeRecord.recorded_at == at) & (ConsentChangeRecord.change_id > change_id)))
    query = query.order_by(ConsentChangeRecord.recorded_at, ConsentChangeRecord.change_id).limit(limit)
    with session_scope(engine) as session:
        return [(change_from_record(row), (row.recorded_at, row.change_id)) for row in session.scalars(query)]


class GatedConsentPublisher:
    """Publishes nothing until ``open``; then the history from SQL, and every change directly."""

    def __init__(self, inner: ConsentPublisher, engine: Engine) -> None:
        self.inner = inner
        self.engine = engine
        self.is_open = False
        self.replayed = 0

    async def publish(self, changes: Sequence[ConsentChange]) -> None:
        """Pass the changes on once open (before that the history replay will carry them)."""
        if self.is_open:
            await self.inner.publish(changes)

    async def open(self) -> int:
        """Let changes through, then republish the stored history; returns how many were replayed."""
        self.is_open = True
        after = None
        while True:
            rows = await asyncio.to_thread(history_page, self.engine, after=after)
            if not rows:
                break
            await self.inner.publish([change for change, _ in rows])
            self.replayed += len(rows)
            after = rows[-1][1]
        log.info("consent topic rebuilt from %d stored changes", self.replayed)
        return self.replayed

    async def stop(self) -> None:
        """Stop the publisher behind the gate."""
        stop = getattr(self.inner, "stop", None)
        if stop is not None:
            await stop()
