"""Service functions over the outbox: enqueue, claim, move between states. The caller commits.

Claiming takes rows whose lease is free or expired and leases them to one sender. On PostgreSQL
the candidate rows are read ``FOR UPDATE SKIP LOCKED``, so concurrent senders take disjoint rows
without waiting on each other; on SQLite (one writer at a time) the conditional lease update is
the guard. The lease then keeps the row with its sender across the transactions that follow:
every later write of the sender starts with ``hold`` (only the rows it still holds, locked until
its commit) and sets each row's columns with ``write_rows`` (one executemany per column set).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlmodel import Session

from infra.database import dialect_insert
from outreach.outbox.records import DRAFTED, PENDING, SENDING, OutboxRecord
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


def hold(*, session: Session, message_ids: Collection[str], owner: str, now: dt.datetime,
         states: Collection[str] = (PENDING, DRAFTED)) -> set[str]:
    """Of ``message_ids``, the rows ``owner`` still holds in one of ``states``; locked until the caller commits.

    The first statement of a sender's write transaction, and an UPDATE on purpose: SQLite takes its
    write lock here (no other writer commits before this transaction does), PostgreSQL locks the
    rows (a claimer skips them), so what the transaction reads after it is what its commit acts on.
    A row not returned lost its lease: another sender holds or finished it, and it is left alone.
    """
    if not message_ids:
        return set()
    table = OutboxRecord.__table__
    stmt = (
        update(table)
        .where(table.c.message_id.in_(list(message_ids)), table.c.lease_owner == owner, table.c.state.in_(states))
        .values(updated_at=now)
        .returning(table.c.message_id)
    )
    return set(session.execute(stmt).scalars())


def write_rows(*, session: Session, owner: str, rows: Mapping[str, Mapping[str, Any]]) -> None:
    """Set each row's columns (message id -> column -> value) while ``owner`` holds it; one executemany per column set.

    Meant after ``hold`` in the same transaction, which made sure the rows are this sender's.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for message_id, values in rows.items():
        params = {f"new_{name}": value for name, value in values.items()}
        groups.setdefault(tuple(sorted(values)), []).append({"row_id": message_id, **params})
    table = OutboxRecord.__table__
    for names, params in groups.items():
        stmt = (
            update(table)
            .where(table.c.message_id == bindparam("row_id"), table.c.lease_owner == owner)
            .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in names})
        )
        session.execute(stmt, params)


def give_back(*, session: Session, message_ids: Collection[str], owner: str, until: dt.datetime,
              now: dt.datetime) -> int:
    """Give claimed rows back, due again at ``until``, unless they left pending/drafted (never a ``sending`` row)."""
    if not message_ids:
        return 0
    result = session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.message_id.in_(list(message_ids)), OutboxRecord.lease_owner == owner,
               OutboxRecord.state.in_((PENDING, DRAFTED)))
        .values(next_attempt_at=until, lease_owner=None, lease_expires_at=None, updated_at=now)
    )
    return result.rowcount


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
