"""The ingest journal: append acknowledged records in the caller's transaction, read them in order.

``append`` runs inside the transaction that answers the client, so a 202 means the rows are
committed. On PostgreSQL appends take a transaction-scoped advisory lock first: sequence values
are handed out at insert time, and without the lock a transaction that drew a lower ``seq`` could
commit after one with a higher ``seq`` that the relay already passed. Serialised appends commit
in ``seq`` order, which is what lets the relay read "everything after N" (SQLite has one writer
at a time anyway). The caller commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, insert, select, text
from sqlmodel import Session

from infra.records import JournalRecord

_APPEND_LOCK = 0x7265_7461_696E  # "retain": the advisory lock id of journal appends


def append(*, session: Session, topic: str, records: Sequence[tuple[bytes, bytes]], now: dt.datetime) -> None:
    """Add ``(key, payload)`` records for ``topic``, in the given order."""
    if not records:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _APPEND_LOCK})
    session.execute(insert(JournalRecord), [
        {"topic": topic, "key": key, "payload": payload, "accepted_at": now} for key, payload in records
    ])


def read_after(*, session: Session, topic: str, after: int, limit: int) -> list[tuple[int, bytes, bytes]]:
    """Up to ``limit`` records of ``topic`` with ``seq > after``, as ``(seq, key, payload)`` in order."""
    rows = session.execute(
        select(JournalRecord.seq, JournalRecord.key, JournalRecord.payload)
        .where(JournalRecord.topic == topic, JournalRecord.seq > after)
        .order_by(JournalRecord.seq).limit(limit)
    ).all()
    return [(int(seq), bytes(key), bytes(payload)) for seq, key, payload in rows]


def prune(*, session: Session, topic: str, upto: int) -> int:
    """Delete the records of ``topic`` with ``seq <= upto`` (checkpointed); returns how many."""
    result = session.execute(delete(JournalRecord).where(JournalRecord.topic == topic, JournalRecord.seq <= upto))
    return int(result.rowcount or 0)
