"""Service functions over the trigger tables: keyword-only, session first, the caller commits.

Decisions are written with one ``INSERT .. ON CONFLICT DO NOTHING`` per batch (PostgreSQL and
SQLite alike), so deciding the same signal twice, or two workers racing on it, leaves exactly
one row per decision id: the first one stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Iterable, Sequence

from sqlalchemy import or_, select
from sqlmodel import Session

from infra.database import dialect_insert
from triggers.decision import Decision
from triggers.decision_history import history_from_decisions
from triggers.policy import ContactHistory
from triggers.records import DecisionRecord, RuleAuditRecord, RuleVersionRecord
from triggers.ruleset import RuleSet, RuleSetDiff

# How far back contact history is loaded: the longest cooldown or cap window that matters.
HISTORY_LOOKBACK = dt.timedelta(days=90)


def _row(decision: Decision) -> dict[str, Any]:
    data = decision.model_dump()
    data["outcome"] = decision.outcome.value
    data["reason"] = decision.reason.value
    data["drivers"] = [[name, value] for name, value in decision.drivers]
    return data


def record_decisions(*, session: Session, decisions: Sequence[Decision]) -> set[str]:
    """Store decisions once each; returns the ids that were new (the rest were already stored)."""
    if not decisions:
        return set()
    table = DecisionRecord.__table__
    rows = [_row(d) for d in decisions]
    # One multi-row INSERT; RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
    stmt = dialect_insert(session, table).values(rows).on_conflict_do_nothing().returning(table.c.decision_id)
    return {row[0] for row in session.execute(stmt)}


def decision_from_record(record: DecisionRecord) -> Decision:
    """The domain ``Decision`` back from its stored row."""
    data = record.model_dump(exclude={"recorded_at"})
    data["drivers"] = tuple(tuple(pair) for pair in record.drivers or ())
    return Decision.model_validate(data)


def get_decision(*, session: Session, decision_id: str) -> Decision | None:
    """One stored decision, or None."""
    record = session.get(DecisionRecord, decision_id)
    return decision_from_record(record) if record is not None else None


def get_decisions(*, session: Session, decision_ids: Iterable[str]) -> list[Decision]:
    """The stored decisions with these ids (missing ids are skipped)."""
    ids = list(dict.fromkeys(decision_ids))
    if not ids:
        return []
    query = select(DecisionRecord).where(DecisionRecord.decision_id.in_(ids))
    by_id = {r.decision_id: r for r in session.scalars(query)}
    return [decision_from_record(by_id[i]) for i in ids if i in by_id]


def list_decisions(
    *, session: Session, customer_id: str, since: dt.datetime | None = None, limit: int = 200
) -> list[Decision]:
    """A customer's decisions, newest first, optionally only those decided after ``since``."""
    query = (
        select(DecisionRecord)
        .where(DecisionRecord.customer_id == customer_id)
        .order_by(DecisionRecord.decided_at.desc(), DecisionRecord.decision_id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(DecisionRecord.decided_at > since)
    return [decision_from_record(r) for r in session.scalars(query)]


def contact_history(
    *, session: Session, customer_id: str, now: dt.datetime, exclude: Iterable[str] = ()
) -> ContactHistory:
    """Sends implied by the customer's stored engage/defer decisions of the last ``HISTORY_LOOKBACK``.

    A port: once the outbox exists it becomes the source of real sends (see decision_history).
    """
    query = select(DecisionRecord).where(
        DecisionRecord.customer_id == customer_id,
        # engage/defer are sends; a deferral job's own expired/suppressed row releases its defer.
        or_(DecisionRecord.outcome.in_(("engage", "defer")), DecisionRecord.deferred_from.is_not(None)),
        DecisionRecord.rule_id.is_not(None),
        DecisionRecord.decided_at > now - HISTORY_LOOKBACK,
    )
    decisions = [decision_from_record(r) for r in session.scalars(query)]
    return history_from_decisions(decisions, exclude=exclude)


def rule_content_hash(content: dict[str, Any]) -> str:
    """Stable hash of one rule's canonical content."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def record_rule_versions(*, session: Session, ruleset: RuleSet, now: dt.datetime) -> int:
    """Store every rule of ``ruleset`` whose content was not stored before; returns how many were new."""
    if not len(ruleset):
        return 0
    table = RuleVersionRecord.__table__
    rows = []
    for rule in ruleset:
        content = rule.canonical()
        rows.append({
            "rule_id": rule.id, "content_hash": rule_content_hash(content), "version": rule.version,
            "source": ruleset.sources.get(rule.id), "content": content, "first_seen_at": now,
        })
    stmt = dialect_insert(session, table).values(rows).on_conflict_do_nothing().returning(table.c.rule_id)
    return len(list(session.execute(stmt)))


def record_rule_audit(
    *, session: Session, actor: str, now: dt.datetime, change: RuleSetDiff | None = None,
    errors: Sequence[str] = (), old_fingerprint: str | None = None,
    behaviour_changes: dict[str, list[str]] | None = None,
) -> RuleAuditRecord:
    """Append one audit row: ``applied`` with the diff (and the changes four-eyes would cover), or ``rejected``."""
    diff = change.to_dict() if change is not None else {}
    if behaviour_changes:
        diff["behaviour_changes"] = behaviour_changes
    record = RuleAuditRecord(
        changed_at=now,
        actor=actor,
        action="applied" if change is not None else "rejected",
        old_fingerprint=change.old_fingerprint if change is not None else old_fingerprint,
        new_fingerprint=change.new_fingerprint if change is not None else None,
        diff=diff,
        errors=list(errors),
    )
    session.add(record)
    session.flush()
    return record


def list_rule_audit(*, session: Session, limit: int = 100) -> list[RuleAuditRecord]:
    """The newest audit rows first."""
    query = select(RuleAuditRecord).order_by(RuleAuditRecord.id.desc()).limit(limit)
    return list(session.scalars(query))
