"""Service functions over the quarantine table: keyword-only, session first, the caller commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from signals.records import QuarantineRecord


def record_quarantine_notice(*, session: Session, notice: dict[str, Any]) -> None:
    """Apply one ``quarantine`` topic notice (the topic is ordered per customer: the last one wins)."""
    at = dt.datetime.fromisoformat(notice["at"])
    row = session.get(QuarantineRecord, notice["customer_id"])
    if row is None:
        row = QuarantineRecord(customer_id=notice["customer_id"], status=notice["status"], updated_at=at)
        session.add(row)
    row.status, row.updated_at = notice["status"], at
    if notice["status"] == "released":
        row.released_at = at
        return
    row.reason, row.stage = str(notice.get("reason", ""))[:4000], str(notice.get("stage", ""))[:32]
    row.since = dt.datetime.fromisoformat(notice["since"]) if notice.get("since") else at
    row.held, row.dead_lettered = int(notice.get("held", 0)), int(notice.get("dead_lettered", 0))
    row.released_at = None


def quarantine_of(*, session: Session, customer_id: str) -> dict[str, Any] | None:
    """The customer's quarantine as plain data (current or last released), or ``None`` if never."""
    row = session.get(QuarantineRecord, customer_id)
    return None if row is None else quarantine_view(row)


def list_quarantines(*, session: Session, include_released: bool = False) -> list[dict[str, Any]]:
    """Every quarantined customer (and released ones, if asked), longest-held first."""
    query = select(QuarantineRecord).order_by(QuarantineRecord.since)
    if not include_released:
        query = query.where(QuarantineRecord.status == "quarantined")
    return [quarantine_view(row) for row in session.scalars(query)]


def quarantine_view(row: QuarantineRecord) -> dict[str, Any]:
    """One row as JSON-able data."""
    return {"customer_id": row.customer_id, "status": row.status, "reason": row.reason, "stage": row.stage,
            "since": row.since.isoformat() if row.since else None, "held": row.held,
            "dead_lettered": row.dead_lettered,
            "released_at": row.released_at.isoformat() if row.released_at else None,
            "release_command": f"retain quarantine release {row.customer_id}" if row.status == "quarantined" else None}
