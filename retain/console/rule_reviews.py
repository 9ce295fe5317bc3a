"""Four-eyes on rule behaviour in the console: what an approver sees, approving, rejecting.

An approval puts the proposed version in its rule file, but only after the database holds the
decision and its audit row (the file is staged first and renamed into place after the commit), so
no rule takes effect without its approval on record. Approving needs the ``approve`` permission and
a different person than the author (``triggers.rule_proposals.decide``); rejecting needs the same
permission, or being the author (withdrawing one's own proposal). These functions commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from infra.settings import Settings
from retain.console import rule_backtest
from retain.console.rule_editing import load, rule_yaml, stage_rule
from retain.console.users import audit
from triggers.records import RuleProposalRecord
from triggers.rule import Rule
from triggers.rule_proposals import ProposalRefused, decide, get_proposal, is_stale
from triggers.ruleset import RuleSet
from triggers.service import record_rule_versions


def proposal_view(record: RuleProposalRecord, *, current: Rule | None) -> dict[str, Any]:
    """What an approver sees: who, why it needs a second person, the diff, the backtest, whether it went stale."""
    return {"proposal_id": record.id, "rule_id": record.rule_id, "version": record.version,
            "base_version": record.base_version, "state": record.state, "proposed_by": record.proposed_by,
            "proposed_at": record.proposed_at.isoformat(), "reasons": list(record.reasons), "diff": record.diff,
            "yaml": rule_yaml(record.content), "backtest": record.backtest,
            "stale": record.state == "pending" and is_stale(record, current),
            "decided_by": record.decided_by, "decided_at": record.decided_at.isoformat() if record.decided_at else None,
            "note": record.note}


def view(*, session: Session, settings: Settings, proposal_id: int) -> dict[str, Any] | None:
    """One proposal as ``proposal_view`` shows it, or None."""
    record = get_proposal(session=session, proposal_id=proposal_id)
    return proposal_view(record, current=load(settings).get(record.rule_id)) if record is not None else None


def approve(*, session: Session, settings: Settings, proposal_id: int, approver: str,
            now: dt.datetime) -> dict[str, Any]:
    """Approve a proposal and put its version in force; ``ProposalRefused`` (nothing changes) says why not."""
    ruleset = load(settings)
    record = get_proposal(session=session, proposal_id=proposal_id)
    current = ruleset.get(record.rule_id) if record is not None else None
    record = decide(session=session, proposal_id=proposal_id, approve=True, by=approver, now=now, current=current)
    rule = Rule.model_validate(record.content)
    staged = stage_rule(settings.rules_dir, ruleset, rule)
    try:
        saved = RuleSet.of([r for r in ruleset if r.id != rule.id] + [rule],
                           sources={**ruleset.sources, rule.id: str(staged.path)})
        record_rule_versions(session=session, ruleset=saved, now=now)
        audit(session=session, actor=approver, action="rule.approve", target=f"rule:{rule.id}", now=now,
              detail={"proposal_id": record.id, "version": rule.version, "content_hash": record.content_hash,
                      "proposed_by": record.proposed_by, "reasons": list(record.reasons), "file": str(staged.path),
                      "diff": record.diff})
        session.commit()
    except BaseException:
        session.rollback()
        staged.discard()
        raise
    staged.apply()
    return proposal_view(record, current=rule)


def reject(*, session: Session, settings: Settings, proposal_id: int, by: str, may_approve: bool, reason: str,
           now: dt.datetime) -> dict[str, Any]:
    """Reject a proposal (an approver) or withdraw it (its author); ``ProposalRefused`` says why not."""
    record = get_proposal(session=session, proposal_id=proposal_id)
    if record is not None and not may_approve and record.proposed_by != by:
        raise ProposalRefused("forbidden", "only an approver or the author can reject a proposal")
    record = decide(session=session, proposal_id=proposal_id, approve=False, by=by, now=now, current=None,
                    note=reason)
    withdrawn = record.proposed_by == by
    audit(session=session, actor=by, action="rule.withdraw" if withdrawn else "rule.reject",
          target=f"rule:{record.rule_id}", now=now,
          detail={"proposal_id": record.id, "version": record.version, "reason": reason})
    session.commit()
    return proposal_view(record, current=load(settings).get(record.rule_id))


def rerun_backtest(*, settings: Settings, record: RuleProposalRecord, start: dt.datetime,
                   end: dt.datetime) -> dict[str, Any]:
    """The proposal's backtest over another window (not stored): an approver checks a window of their choice."""
    return rule_backtest.compare(settings=settings, ruleset=load(settings), rule=Rule.model_validate(record.content),
                                 start=start, end=end)
