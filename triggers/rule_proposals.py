"""Service functions over rule proposals (four-eyes): keyword-only, session first, the caller commits.

A proposal is a rule version that needs a second person (``rule_review``). It is stored here and
nowhere else until approved, so neither the rule files nor the reloader can put it in force. One
proposal per rule is pending at a time: a newer one supersedes it. Deciding is conditional on the
row still being pending (two approvers clicking at once: one wins). The author can never approve
their own proposal, and an approval is refused when the rule changed since the proposal was made
(its diff would no longer describe what is approved).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from triggers.records import RuleProposalRecord
from triggers.rule import Rule
from triggers.service import rule_content_hash

PENDING, APPROVED, REJECTED, SUPERSEDED = "pending", "approved", "rejected", "superseded"


class ProposalRefused(Exception):
    """A decision that may not be made: ``kind`` is ``missing``, ``decided``, ``author`` or ``stale``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def content_hash(rule: Rule | None) -> str | None:
    """The stored content hash of a rule (None for no rule)."""
    return rule_content_hash(rule.canonical()) if rule is not None else None


def propose(*, session: Session, rule: Rule, base: Rule | None, reasons: list[str], diff: str, author: str,
            now: dt.datetime, backtest: dict[str, Any] | None = None) -> RuleProposalRecord:
    """Store ``rule`` as pending (superseding an older pending proposal for the same rule)."""
    record = RuleProposalRecord(rule_id=rule.id, version=rule.version, content=rule.canonical(),
                                content_hash=content_hash(rule), base_hash=content_hash(base),
                                base_version=base.version if base is not None else None, reasons=list(reasons),
                                diff=diff, backtest=backtest, state=PENDING, proposed_by=author, proposed_at=now)
    session.add(record)
    session.flush()
    session.execute(update(RuleProposalRecord)
                    .where(RuleProposalRecord.rule_id == rule.id, RuleProposalRecord.state == PENDING,
                           RuleProposalRecord.id != record.id)
                    .values(state=SUPERSEDED, decided_by=author, decided_at=now, note=f"replaced by #{record.id}"))
    return record


def get_proposal(*, session: Session, proposal_id: int) -> RuleProposalRecord | None:
    """One proposal, or None."""
    return session.get(RuleProposalRecord, proposal_id, populate_existing=True)


def list_proposals(*, session: Session, state: str | None = PENDING, rule_id: str | None = None,
                   limit: int = 100) -> list[RuleProposalRecord]:
    """Proposals, oldest first, by state (None: all) and rule."""
    query = select(RuleProposalRecord).order_by(RuleProposalRecord.id).limit(limit)
    if state is not None:
        query = query.where(RuleProposalRecord.state == state)
    if rule_id is not None:
        query = query.where(RuleProposalRecord.rule_id == rule_id)
    return list(session.scalars(query))


def is_stale(record: RuleProposalRecord, current: Rule | None) -> bool:
    """True when the rule in force is no longer the one the proposal was written against."""
    return record.base_hash != content_hash(current)


def decide(*, session: Session, proposal_id: int, approve: bool, by: str, now: dt.datetime, current: Rule | None,
           note: str = "") -> RuleProposalRecord:
    """Approve or reject a pending proposal; ``ProposalRefused`` says why not. ``current`` is the rule in force."""
    record = get_proposal(session=session, proposal_id=proposal_id)
    if record is None:
        raise ProposalRefused("missing", f"no rule proposal #{proposal_id}")
    if record.state != PENDING:
        raise ProposalRefused("decided", f"proposal #{proposal_id} is {record.state}, not pending")
    if approve and by == record.proposed_by:
        raise ProposalRefused("author", f"{by} proposed #{proposal_id}: a different person must approve it")
    if approve and is_stale(record, current):
        raise ProposalRefused("stale", f"rule {record.rule_id} changed since proposal #{proposal_id} was made; "
                                       "propose the change again")
    state = APPROVED if approve else REJECTED
    result = session.execute(update(RuleProposalRecord)
                             .where(RuleProposalRecord.id == proposal_id, RuleProposalRecord.state == PENDING)
                             .values(state=state, decided_by=by, decided_at=now, note=note[:400]))
    if result.rowcount != 1:
        raise ProposalRefused("decided", f"proposal #{proposal_id} was decided meanwhile")
    return get_proposal(session=session, proposal_id=proposal_id)
