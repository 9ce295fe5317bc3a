"""Service functions over the outbox: enqueue, claim, move between states. The caller commits.

Claiming takes rows whose lease is free or expired and leases them to one sender. On PostgreSQL
the candidate rows are read ``FOR UPDATE SKIP LOCKED``, so concurrent senders take disjoint rows
without waiting on each other; on SQLite (one writer at a time) the conditional lease update is
the guard. The lease then keeps the row with its sender across the transactions that follow.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session

from infra.database import dialect_insert
from outreach.outbox.records import (
    DRAFTED,
    PENDING,
    SENDING,
    OutboxRecord,
)
from triggers.decision import Decision

ENGAGING_OUTCOMES = frozenset({"engage", "defer"})


def enqueue(*, session: Session, decision: Decision, now: dt.datetime) -> str | None:
    """One outbox row for an engaging decision; the new message id, or None when it already exists."""
    outcome = getattr(decision.outcome, "value", decision.outcome)
    if outcome not in ENGAGING_OUTCOMES:
        raise ValueError(f"decision {decision.decision_id} is {outcome!r}; only engage/defer go to the outbox")
    if not decision.idempotency_key or not decision.channel or not decision.rule_id:
        raise ValueError(f"decision {decision.decision_id} lacks an idempotency key, channel or rule")
    message_id = uuid.uuid4().hex
    table = OutboxRecord.__table__
    stmt = (
        dialect_insert(session, table)
        .values(
            message_id=message_id, idempotency_key=decision.idempotency_key, decision_id=decision.decision_id,
            customer_id=decision.customer_id, rule_id=decision.rule_id, episode_key=decision.episode_key,
            channel=decision.channel, topic=decision.topic or "service", state=PENDING,
            requires_approval=decision.requires_approval, decision=decision.to_dict(), attempts=0,
            next_attempt_at=decision.defer_until or now, expires_at=decision.expires_at, rendered={},
            created_at=now, updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.message_id)
    )
    return message_id if session.execute(stmt).first() is not None else None


def enqueue_engaging(*, session: Session, decisions: Iterable[Decision | Mapping[str, Any]],
                     now: dt.datetime) -> list[str]:
    """Enqueue the engaging decisions of a batch (others are skipped); the ids of new rows."""
    created = []
    for item in decisions:
        decision = item if isinstance(item, Decision) else Decision.from_dict(item)
        if getattr(decision.outcome, "value", decision.outcome) in ENGAGING_OUTCOMES and decision.idempotency_key:
            message_id = enqueue(session=session, decision=decision, now=now)
            if message_id is not None:
                created.append(message_id)
    return created


def claim(
    *, session: Session, owner: str, now: dt.datetime, lease: dt.timedelta, limit: int = 20
) -> list[OutboxRecord]:
    """Lease up to ``limit`` due rows (pending or drafted) to ``owner``; returns them."""
    free = or_(OutboxRecord.lease_expires_at.is_(None), OutboxRecord.lease_expires_at < now)
    candidates = (
        select(OutboxRecord.message_id)
        .where(OutboxRecord.state.in_((PENDING, DRAFTED)), OutboxRecord.next_attempt_at <= now, free)
        .order_by(OutboxRecord.next_attempt_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.message_id.in_(ids), free)
        .values(lease_owner=owner, lease_expires_at=now + lease)
    )
    session.flush()
    claimed = select(OutboxRecord).where(OutboxRecord.message_id.in_(ids), OutboxRecord.lease_owner == owner)
    return list(session.scalars(claimed.execution_options(populate_existing=True)))


def transition(*, session: Session, message_id: str, now: dt.datetime, state: str, release: bool = True,
               owner: str | None = None, **values: Any) -> bool:
    """Move a row to ``state`` (and set ``values``); ``release`` frees its lease.

    With ``owner``: only while that sender still holds the row's lease (False: it lost it).
    """
    if release:
        values.update(lease_owner=None, lease_expires_at=None)
    query = update(OutboxRecord).where(OutboxRecord.message_id == message_id)
    if owner is not None:
        query = query.where(OutboxRecord.lease_owner == owner)
    return session.execute(query.values(state=state, updated_at=now, **values)).rowcount == 1


def start_sending(*, session: Session, message_id: str, owner: str, now: dt.datetime, **values: Any) -> bool:
    """Move a claimed row to ``sending`` only while ``owner`` holds its lease and it is still pending/drafted.

    False: the lease ran out and another sender claimed (or already sent) the row; this one must
    not call the provider.
    """
    result = session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.message_id == message_id, OutboxRecord.lease_owner == owner,
               OutboxRecord.state.in_((PENDING, DRAFTED)))
        .values(state=SENDING, updated_at=now, **values)
    )
    return result.rowcount == 1


def postpone(*, session: Session, message_id: str, owner: str, until: dt.datetime, now: dt.datetime,
             reason: str | None = None) -> bool:
    """Give a claimed row back, due again at ``until``, unless it left pending/drafted (never a ``sending`` row)."""
    values: dict[str, Any] = {"next_attempt_at": until, "lease_owner": None, "lease_expires_at": None, "updated_at": now}
    if reason is not None:
        values["last_error"] = reason
    result = session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.message_id == message_id, OutboxRecord.lease_owner == owner,
               OutboxRecord.state.in_((PENDING, DRAFTED)))
        .values(**values)
    )
    return result.rowcount == 1


def stale_sending(*, session: Session, now: dt.datetime) -> list[OutboxRecord]:
    """Rows left in ``sending`` whose sender's lease ran out (it crashed between call and record)."""
    query = select(OutboxRecord).where(
        OutboxRecord.state == SENDING,
        or_(OutboxRecord.lease_expires_at.is_(None), OutboxRecord.lease_expires_at < now),
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def get_message(*, session: Session, message_id: str) -> OutboxRecord | None:
    """One outbox row by message id."""
    return session.get(OutboxRecord, message_id)


def by_provider_id(*, session: Session, provider_message_id: str) -> OutboxRecord | None:
    """The outbox row a provider's message id belongs to."""
    query = select(OutboxRecord).where(OutboxRecord.provider_message_id == provider_message_id)
    return session.scalars(query).first()


def list_messages(*, session: Session, customer_id: str | None = None, state: str | None = None,
                  limit: int = 100) -> list[OutboxRecord]:
    """The newest outbox rows first, optionally of one customer or in one state."""
    query = select(OutboxRecord).order_by(OutboxRecord.created_at.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(OutboxRecord.customer_id == customer_id)
    if state is not None:
        query = query.where(OutboxRecord.state == state)
    return list(session.scalars(query))


def approve(*, session: Session, message_id: str, now: dt.datetime) -> bool:
    """Approve a draft awaiting review: it goes on to send; False when it was not awaiting approval."""
    result = session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.message_id == message_id, OutboxRecord.state == "awaiting_approval")
        .values(state=DRAFTED, requires_approval=False, next_attempt_at=now, updated_at=now)
    )
    return result.rowcount == 1
