"""The console's rule-proposals page: each pending change with its reasons, diff and backtest beside it.

Approvers approve or reject; the author can withdraw; an optional window backtests every pending
proposal again over dates the approver picks (the stored backtest is the author's window).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from retain.console import rule_actions, rule_reviews
from retain.console.auth import Principal, db, now_utc, page
from retain.console.proposals_api import ProposalId
from retain.console.pages import render
from triggers.rule_proposals import ProposalRefused, list_proposals

router = APIRouter(prefix="/console", include_in_schema=False)


def _day(value: str, *, days_after: int = 0) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(value) + dt.timedelta(days=days_after)
    except (ValueError, OverflowError):  # empty, unreadable, or a next day past 9999-12-31
        return None
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


@router.get("/rule-proposals", response_class=HTMLResponse)
def proposals_page(request: Request, done: str = "", error: str = "", start: str = "", end: str = "",
                   session: Session = Depends(db), principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """Pending rule changes, each with why it needs a second person, its diff and its backtest."""
    settings = request.app.state.settings
    try:
        ruleset = rule_actions.load(settings)
    except rule_actions.RulesUnavailable as exc:
        return render(request, "error.html", principal, "Rule changes", "proposals", status_code=503,
                      message=f"The rule files do not load: {exc}")
    records = list_proposals(session=session)
    proposals: list[dict[str, Any]] = [rule_reviews.proposal_view(r, current=ruleset.get(r.rule_id)) for r in records]
    window = (_day(start), _day(end, days_after=1))
    if window[0] and window[1]:  # the approver's own window, instead of the author's
        for view, record in zip(proposals, records):
            view["backtest"] = rule_reviews.rerun_backtest(settings=settings, record=record, start=window[0],
                                                           end=window[1])
    return render(request, "proposals.html", principal, "Rule changes", "proposals", proposals=proposals,
                  can_approve=principal.may("approve"), flash=(error or done)[:300] or None,
                  flash_kind="error" if error else "ok", start=start, end=end)


@router.post("/rule-proposals/{proposal_id}")
def proposal_submit(proposal_id: ProposalId, request: Request, action: str = Form(...), reason: str = Form(""),
                    session: Session = Depends(db), principal: Principal = Depends(page("read"))) -> Response:
    """Approve (approvers other than the author) or reject / withdraw one proposal."""
    settings = request.app.state.settings
    try:
        if action == "approve":
            if not principal.may("approve"):
                raise ProposalRefused("forbidden", f"role {principal.role!r} may not approve rule changes")
            view = rule_reviews.approve(session=session, settings=settings, proposal_id=proposal_id,
                                        approver=principal.username, now=now_utc())
            message = f"Approved: {view['rule_id']} v{view['version']} is in force."
        else:
            view = rule_reviews.reject(session=session, settings=settings, proposal_id=proposal_id,
                                       by=principal.username, may_approve=principal.may("approve"),
                                       reason=reason.strip() or "no reason given", now=now_utc())
            message = f"{'Withdrawn' if view['proposed_by'] == principal.username else 'Rejected'}: #{proposal_id}."
    except (ProposalRefused, rule_actions.RulesUnavailable) as exc:
        return RedirectResponse(f"/console/rule-proposals?{urlencode({'error': f'Not done: {exc}'})}", status_code=303)
    return RedirectResponse(f"/console/rule-proposals?{urlencode({'done': message})}", status_code=303)
