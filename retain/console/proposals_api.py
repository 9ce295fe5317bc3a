"""The console's JSON API for rule proposals (four-eyes): list, view, backtest again, approve, reject.

A proposal is a rule version that widens what the rule does (``triggers.rule_review``); it is in
force nowhere until a different person with the ``approve`` permission approves it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from retain.console import rule_actions, rule_reviews
from retain.console.auth import Principal, db, now_utc, require
from triggers.rule_proposals import ProposalRefused, get_proposal, list_proposals

router = APIRouter(prefix="/api", tags=["console"])

# A proposal id as its column holds it (32-bit on PostgreSQL): anything else is a 422, not a database error.
ProposalId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the proposal's number")]

# What each refusal answers: no such proposal, not yours to decide, or no longer decidable as shown.
REFUSAL_STATUS = {"missing": 404, "forbidden": 403, "author": 403, "decided": 409, "stale": 409}


class ProposalRejection(BaseModel):
    """Reject (or, as its author, withdraw) a proposal, saying why."""

    reason: str = Field(min_length=1, max_length=400)


class Window(BaseModel):
    """A past window to backtest a proposal over."""

    start: dt.datetime
    end: dt.datetime


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _refused(exc: ProposalRefused) -> HTTPException:
    return HTTPException(REFUSAL_STATUS.get(exc.kind, 409), str(exc))


def _rules(fn, **kwargs):
    try:
        return fn(**kwargs)
    except rule_actions.RulesUnavailable as exc:
        raise HTTPException(503, f"the rule files do not load: {exc}") from None
    except ProposalRefused as exc:
        raise _refused(exc) from None


@router.get("/rule-proposals")
def get_rule_proposals(request: Request, state: str = "pending", session: Session = Depends(db),
                       _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Rule proposals in ``state`` (pending, approved, rejected, superseded; ``all``), oldest first."""
    ruleset = _rules(rule_actions.load, settings=request.app.state.settings)
    records = list_proposals(session=session, state=None if state == "all" else state)
    return [rule_reviews.proposal_view(r, current=ruleset.get(r.rule_id)) for r in records]


@router.get("/rule-proposals/{proposal_id}")
def get_rule_proposal(proposal_id: ProposalId, request: Request, session: Session = Depends(db),
                      _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """One proposal: who, why it needs a second person, the diff, the backtest, whether it went stale."""
    found = _rules(rule_reviews.view, session=session, settings=request.app.state.settings, proposal_id=proposal_id)
    if found is None:
        raise HTTPException(404, f"no rule proposal #{proposal_id}")
    return found


@router.post("/rule-proposals/{proposal_id}/backtest")
def post_rule_proposal_backtest(proposal_id: ProposalId, body: Window, request: Request, session: Session = Depends(db),
                                _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """The proposal beside the rule in force over another window (not stored)."""
    record = get_proposal(session=session, proposal_id=proposal_id)
    if record is None:
        raise HTTPException(404, f"no rule proposal #{proposal_id}")
    return _rules(rule_reviews.rerun_backtest, settings=request.app.state.settings, record=record,
                  start=_aware(body.start), end=_aware(body.end))


@router.post("/rule-proposals/{proposal_id}/approve", responses={
    403: {"description": "the author cannot approve their own proposal"},
    409: {"description": "not pending any more, or the rule changed since it was proposed"}})
def post_rule_proposal_approve(proposal_id: ProposalId, request: Request, session: Session = Depends(db),
                               principal: Principal = Depends(require("approve"))) -> dict[str, Any]:
    """Approve a proposal (a different person than its author): its version goes into the rule file."""
    return _rules(rule_reviews.approve, session=session, settings=request.app.state.settings,
                  proposal_id=proposal_id, approver=principal.username, now=now_utc())


@router.post("/rule-proposals/{proposal_id}/reject")
def post_rule_proposal_reject(proposal_id: ProposalId, body: ProposalRejection, request: Request,
                              session: Session = Depends(db),
                              principal: Principal = Depends(require("read"))) -> dict[str, Any]:
    """Reject a proposal (approvers) or withdraw it (its author); nothing changes in the rules."""
    return _rules(rule_reviews.reject, session=session, settings=request.app.state.settings,
                  proposal_id=proposal_id, by=principal.username, may_approve=principal.may("approve"),
                  reason=body.reason, now=now_utc())
