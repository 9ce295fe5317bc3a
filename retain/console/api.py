"""The console's JSON API under ``/api/``: every console action, documented in the OpenAPI schema.

Authentication: a session cookie (browsers, with the ``X-CSRF-Token`` header on writes) or
``Authorization: Bearer rtn_...`` (machines). Every write is recorded in the console audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from outreach.guardrails import GuardrailLimits
from retain.console import approvals, rule_actions, rule_backtest
from retain.console.auth import Principal, db, now_utc, require
from retain.console.customer import customer_timeline
from retain.console.messages import list_messages, message_entry
from retain.console.outcomes import results
from retain.console.rule_editing import MAX_RULE_TEXT_CHARS
from retain.console.overview import overview
from retain.console.users import audit, list_audit

router = APIRouter(prefix="/api", tags=["console"])


class RuleText(BaseModel):
    """A rule as the YAML mapping the editor holds."""

    yaml: str = Field(max_length=MAX_RULE_TEXT_CHARS, description="one rule as YAML (id, version, signals, ... action)")


class RuleEdit(RuleText):
    """An edited rule to save; a change that needs a second person is backtested over [start, end)."""

    start: dt.datetime | None = Field(default=None, description="backtest window start (default: 30 days before end)")
    end: dt.datetime | None = Field(default=None, description="backtest window end (default: now)")


class BacktestRequest(RuleText):
    """An edited rule and the past window to replay it over."""

    start: dt.datetime = Field(description="window start (ISO 8601, UTC if no offset)")
    end: dt.datetime = Field(description="window end, exclusive")


class Enabled(BaseModel):
    """Switch a rule on or off."""

    enabled: bool


class Approval(BaseModel):
    """Approve a draft, optionally with edited text (checked by the guardrails before it is approved)."""

    subject: str | None = Field(default=None, description="edited e-mail subject")
    body: str | None = Field(default=None, min_length=1, description=(
        "edited drafted text, without the system parts (sender line, opt-out line, footer): the system "
        "keeps those as they are"))


class Rejection(BaseModel):
    """Reject a draft, saying why."""

    reason: str = Field(min_length=1, max_length=400)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@router.get("/me")
def me(principal: Principal = Depends(require("read"))) -> dict[str, Any]:
    """Who is logged in, their role, and (for browser sessions) the CSRF token for writes."""
    return {"username": principal.username, "role": principal.role, "via": principal.via,
            "csrf_token": principal.csrf_token or None}


@router.get("/overview")
def get_overview(request: Request, days: int = Query(14, ge=1, le=366), session: Session = Depends(db),
                 _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """Signals, decisions and messages per day; suppressions by reason; opt-out and complaint rates; dead-letters."""
    counters = getattr(request.app.state, "counters", None)
    return overview(session=session, now=now_utc(), days=days, counters=counters() if callable(counters) else None)


def _settings(request: Request):
    return request.app.state.settings


def _rules_or_503(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except rule_actions.RulesUnavailable as exc:
        raise HTTPException(503, f"the rule files do not load: {exc}") from None


@router.get("/rules")
def get_rules(request: Request, session: Session = Depends(db), _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Every rule with its state (enabled, paused by the reputation guard)."""
    return _rules_or_503(rule_actions.list_rules, session=session, settings=_settings(request))


@router.get("/rules/{rule_id}")
def get_rule(rule_id: str, request: Request, _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """One rule's content and its YAML text."""
    rule = _rules_or_503(rule_actions.load, _settings(request)).get(rule_id)
    if rule is None:
        raise HTTPException(404, f"no rule {rule_id!r}")
    return {"rule": rule.canonical(), "yaml": rule_actions.rule_yaml(rule)}


@router.get("/rules/{rule_id}/history")
def get_rule_history(rule_id: str, session: Session = Depends(db),
                     _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Every stored version, newest first, with the diff from the previous one and who saved it."""
    return rule_actions.history(session=session, rule_id=rule_id)


@router.post("/rules/validate")
def validate_rule(body: RuleText, _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """Check a rule's YAML against the rule schema: ``{"valid", "errors": [{line, field, message}]}``."""
    rule, errors = rule_actions.validate_rule_text(body.yaml)
    return {"valid": rule is not None, "errors": errors}


def _saved_or_pending(result: dict[str, Any], response: Response) -> dict[str, Any]:
    if result["pending"]:
        response.status_code = 202  # accepted, not in force: a different approver must approve it
    return result


SAVE_RESPONSES = {202: {"description": "the change widens what the rule does: stored as a pending proposal "
                                       "(``proposal``) for a different approver, not in force"}}


@router.put("/rules/{rule_id}", responses=SAVE_RESPONSES)
def put_rule(rule_id: str, body: RuleEdit, request: Request, response: Response, session: Session = Depends(db),
             principal: Principal = Depends(require("rules"))) -> dict[str, Any]:
    """Save an edited rule (the version is raised if needed), or propose it when it widens behaviour (202).

    422 with line-numbered errors when invalid. See docs/console.md for which changes need approval.
    """
    window = (_aware(body.start) if body.start else None, _aware(body.end) if body.end else None)
    result = _rules_or_503(rule_actions.save, session=session, settings=_settings(request), actor=principal.username,
                           rule_id=rule_id, text=body.yaml, now=now_utc(), window=window)
    if result["errors"]:
        raise HTTPException(422, result["errors"])
    return _saved_or_pending(result, response)


@router.post("/rules/{rule_id}/enabled", responses=SAVE_RESPONSES)
def post_rule_enabled(rule_id: str, body: Enabled, request: Request, response: Response,
                      session: Session = Depends(db), principal: Principal = Depends(require("rules"))) -> dict[str, Any]:
    """Switch a rule off (at once) or on (202: a proposal a different approver must approve)."""
    try:
        result = _rules_or_503(rule_actions.set_enabled, session=session, settings=_settings(request),
                               actor=principal.username, rule_id=rule_id, enabled=body.enabled, now=now_utc())
    except KeyError:
        raise HTTPException(404, f"no rule {rule_id!r}") from None
    return _saved_or_pending(result, response)


@router.post("/rules/{rule_id}/backtest")
def post_rule_backtest(rule_id: str, body: BacktestRequest, request: Request,
                       _: Principal = Depends(require("rules"))) -> dict[str, Any]:
    """What the edited rule (not saved) would have sent over a past window; 422 when the rule is invalid."""
    ruleset = _rules_or_503(rule_actions.load, _settings(request))
    result = rule_backtest.backtest(settings=_settings(request), ruleset=ruleset, rule_id=rule_id, text=body.yaml,
                                    start=_aware(body.start), end=_aware(body.end))
    if result["errors"]:
        raise HTTPException(422, result["errors"])
    return result


@router.get("/approvals")
def get_approvals(session: Session = Depends(db), _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Drafts awaiting approval, oldest first, with signal, risk drivers and guardrail results."""
    return [approvals.draft_view(row) for row in approvals.queue(session=session)]


@router.post("/approvals/{message_id}/approve", responses={
    409: {"description": "the draft is no longer awaiting approval"},
    422: {"description": "the edit fails its guardrails or cannot be checked: "
                         "``detail = {message, failed: [{name, passed, detail}], checks}``; nothing is approved"}})
def post_approve(message_id: str, body: Approval, request: Request, session: Session = Depends(db),
                 principal: Principal = Depends(require("approve"))) -> dict[str, Any]:
    """Approve a draft (with edited subject/body for edit-and-approve, guardrail-checked); 409 when no longer waiting."""
    now = now_utc()
    try:
        result = approvals.approve(session=session, message_id=message_id, now=now, reviewer=principal.username,
                                   subject=body.subject, body=body.body,
                                   limits=GuardrailLimits.from_settings(_settings(request).message_framing))
    except approvals.EditRefused as exc:
        session.rollback()
        raise HTTPException(422, exc.to_dict()) from None
    if result is None:
        raise HTTPException(409, f"message {message_id} is not awaiting approval")
    audit(session=session, actor=principal.username,
          action="draft.approve_edited" if result["edited"] else "draft.approve", target=f"message:{message_id}",
          now=now, detail={"guardrails": result["guardrails"]} if result["edited"] else None)
    session.commit()
    return result


@router.post("/approvals/{message_id}/reject")
def post_reject(message_id: str, body: Rejection, session: Session = Depends(db),
                principal: Principal = Depends(require("approve"))) -> dict[str, Any]:
    """Reject a draft: it is never sent; 409 when it is no longer waiting."""
    now = now_utc()
    if not approvals.reject(session=session, message_id=message_id, now=now, reviewer=principal.username,
                            reason=body.reason):
        raise HTTPException(409, f"message {message_id} is not awaiting approval")
    audit(session=session, actor=principal.username, action="draft.reject", target=f"message:{message_id}", now=now,
          detail={"reason": body.reason})
    session.commit()
    return {"message_id": message_id, "state": "suppressed"}


@router.get("/messages")
def get_messages(rule: str | None = None, channel: str | None = None, status: str | None = None,
                 limit: int = Query(200, ge=1, le=1000), session: Session = Depends(db),
                 _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Outbox rows, newest first, filtered by rule, channel and status."""
    return [message_entry(r) for r in list_messages(session=session, rule_id=rule, channel=channel, state=status,
                                                    limit=limit)]


@router.get("/customers/{customer_id}/timeline")
def get_timeline(customer_id: str, days: int = Query(90, ge=1, le=3660), session: Session = Depends(db),
                 _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """Signals, scores, decisions with reasons, messages and consent changes of one customer."""
    return customer_timeline(session=session, customer_id=customer_id, now=now_utc(), days=days)


@router.get("/results")
# 0.999 is z = 3.29; much closer to 1, 0.5 + confidence / 2 rounds to 1.0, which has no normal quantile.
def get_results(days: int = Query(30, ge=1, le=366), confidence: float = Query(0.95, gt=0.5, le=0.999,
                                           description="0.5 < confidence <= 0.999 (closer to 1 has no finite interval)"),
                session: Session = Depends(db), _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Per rule: sent vs holdout outcome rates, their difference with Newcombe's interval, opt-out rate."""
    return [r.to_dict() for r in results(session=session, now=now_utc(), days=days, confidence=confidence)]


@router.get("/audit")
def get_audit(limit: int = Query(100, ge=1, le=1000), session: Session = Depends(db),
              _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """The newest console writes: who did what to which object."""
    return [{"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "target": a.target, "detail": a.detail}
            for a in list_audit(session=session, limit=limit)]
