"""The console's HTML pages under ``/console``: server-rendered, usable without JavaScript.

Every form posts with the session's CSRF token; every write goes through the same functions as
the JSON API (``rule_actions``, ``approvals``, ``users``) and is audited the same way.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlencode
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from outreach.guardrails import GuardrailLimits
from outreach.conversations.measures import duration_text
from outreach.conversations.measures_store import measures_since
from outreach.outbox.records import STATES
from retain.console import approvals, reputation_view, rule_actions, template_helpers
from retain.console.auth import Principal, db, now_utc, page
from retain.console.charts import bar_chart, line_chart
from retain.console.messages import list_messages, message_entry
from retain.console.outcomes import results
from retain.console.overview import overview
from retain.console.users import audit

def _paused_banner(request: Request) -> dict[str, Any]:
    """Every page shows the rules the reputation guard paused (ops must not miss one)."""
    return reputation_view.banner_context(getattr(request.app.state, "engine", None))


templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"), context_processors=[_paused_banner])
router = APIRouter(prefix="/console", include_in_schema=False)


def pct(value: float | None) -> str:
    """A rate as a percentage, or n/a."""
    return "n/a" if value is None else f"{value:.1%}"


def pp(value: float | None) -> str:
    """A difference of rates in percentage points, signed."""
    return "n/a" if value is None else f"{value * 100:+.1f} pp"


templates.env.globals.update(pct=pct, pp=pp, duration=duration_text)
template_helpers.install(templates.env)


def render(request: Request, name: str, principal: Principal | None, title: str, nav: str = "",
           status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the layout's common context."""
    return templates.TemplateResponse(request, name, {"principal": principal, "title": title, "nav": nav, **context},
                                      status_code=status_code)


def render_fragment(request: Request, name: str, **context: Any) -> str:
    """A template rendered on its own (no layout), for a part of a page the script swaps in."""
    return templates.get_template(name).render({"request": request, **context})


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, days: int = 14, session: Session = Depends(db),
                  principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """Counts over time, suppressions by reason, reaction rates, dead-letters."""
    counters = getattr(request.app.state, "counters", None)
    data = overview(session=session, now=now_utc(), days=min(max(days, 1), 366),
                    counters=counters() if callable(counters) else None)
    return render(request, "overview.html", principal, "Overview", "overview", data=data,
                  activity=line_chart(data["days"], data["series"], title=f"per day, last {len(data['days'])} days"),
                  suppressions=bar_chart(data["suppressions"], title="suppressed, expired, superseded by reason"),
                  outcomes=bar_chart(data["outcomes"], title="decisions by outcome"))


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, session: Session = Depends(db),
               principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """The list of rules."""
    try:
        rules = rule_actions.list_rules(session=session, settings=request.app.state.settings)
    except rule_actions.RulesUnavailable as exc:
        return render(request, "error.html", principal, "Rules", "rules", message=f"The rule files do not load: {exc}")
    return render(request, "rules.html", principal, "Rules", "rules", rules=rules)


def saved_flash(result: dict[str, Any]) -> str:
    if result["pending"]:
        proposal = result["proposal"]
        return (f"Proposed as v{proposal['version']} (#{proposal['proposal_id']}): it waits for a different approver "
                f"because it {'; '.join(proposal['reasons'])}.")
    return f"Saved as v{result['rule']['version']}." if result["saved"] else "Nothing changed."


@router.post("/rules/{rule_id}/enabled")
def rule_enabled(rule_id: str, request: Request, enabled: str = Form(...), session: Session = Depends(db),
                 principal: Principal = Depends(page("rules"))) -> Response:
    """Switch a rule on or off, then show it again."""
    try:
        result = rule_actions.set_enabled(session=session, settings=request.app.state.settings,
                                          actor=principal.username, rule_id=rule_id, enabled=enabled == "true",
                                          now=now_utc())
    except (KeyError, rule_actions.RulesUnavailable) as exc:
        return render(request, "error.html", principal, "Rule", "rules", status_code=404,
                      message=f"Cannot change rule {rule_id!r}: {exc}")
    return RedirectResponse(f"/console/rules/{rule_id}?{urlencode({'done': saved_flash(result)})}", status_code=303)


@router.post("/rules/{rule_id}/resume")
def rule_resume(rule_id: str, session: Session = Depends(db),
                principal: Principal = Depends(page("rules"))) -> Response:
    """Lift the reputation guard's pause of a rule (ops looked at the evidence), then show it again."""
    reputation_view.resume(session=session, actor=principal.username, rule_id=rule_id, now=now_utc())
    session.commit()
    return RedirectResponse(f"/console/rules/{rule_id}", status_code=303)


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, done: str = "", session: Session = Depends(db),
                   principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """Drafts waiting for a human, with signal, risk drivers and guardrail results beside the text."""
    return _approvals(request, session, principal, flash=done or None)


def _approvals(request: Request, session: Session, principal: Principal, *, flash: str | None = None,
               refused: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    drafts = [approvals.draft_view(row) for row in approvals.queue(session=session)]
    return render(request, "approvals.html", principal, "Approval queue", "approvals", drafts=drafts,
                  can_approve=principal.may("approve"), flash=flash, flash_kind="error" if refused else "ok",
                  refused=refused, status_code=status_code)


@router.post("/approvals/{message_id}")
def approval_submit(message_id: str, request: Request, action: str = Form(...), subject: str | None = Form(None),
                    body: str | None = Form(None), reason: str = Form(""), session: Session = Depends(db),
                    principal: Principal = Depends(page("approve"))) -> HTMLResponse:
    """Approve (as shown or edited, the edit guardrail-checked) or reject one draft."""
    now = now_utc()
    detail: dict[str, Any] = {}
    if action == "reject":
        ok = approvals.reject(session=session, message_id=message_id, now=now, reviewer=principal.username,
                              reason=reason.strip() or "no reason given")
        verb, detail = "draft.reject", {"reason": reason}
    else:
        try:
            result = approvals.approve(session=session, message_id=message_id, now=now, reviewer=principal.username,
                                       subject=subject, body=body,
                                       limits=GuardrailLimits.from_settings(request.app.state.settings.message_framing))
        except approvals.EditRefused as exc:
            session.rollback()
            # Nothing approved: the queue again, with the failed checks and the reviewer's text kept.
            refused = {"message_id": message_id, "subject": subject, "body": body, **exc.to_dict()}
            return _approvals(request, session, principal, refused=refused, status_code=422,
                              flash=f"Not approved: {exc.reason}")
        ok = result is not None
        edited = bool(result and result["edited"])
        verb = "draft.approve_edited" if edited else "draft.approve"
        detail = {"guardrails": result["guardrails"]} if edited and result else {}
    if not ok:
        return render(request, "error.html", principal, "Approval queue", "approvals", status_code=409,
                      message=f"Message {message_id} is no longer waiting for approval.")
    audit(session=session, actor=principal.username, action=verb, target=f"message:{message_id}", now=now,
          detail=detail)
    session.commit()
    done = "Rejected." if action == "reject" else "Approved."
    return RedirectResponse(f"/console/approvals?done={done}", status_code=303)


@router.get("/messages", response_class=HTMLResponse)
def messages_page(request: Request, rule: str = "", channel: str = "", status: str = "", session: Session = Depends(db),
                  principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """The outbox and delivery status, filterable by rule, channel and status."""
    rows = list_messages(session=session, rule_id=rule or None, channel=channel or None, state=status or None)
    try:
        rule_ids = [r.id for r in rule_actions.load(request.app.state.settings)]
    except rule_actions.RulesUnavailable:
        rule_ids = sorted({r.rule_id for r in rows})
    return render(request, "messages.html", principal, "Messages", "messages", messages=[message_entry(r) for r in rows],
                  rule_ids=rule_ids, states=STATES, f={"rule": rule, "channel": channel, "status": status})


@router.get("/results", response_class=HTMLResponse)
def results_page(request: Request, days: int = 30, session: Session = Depends(db),
                 principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """Per rule: sent vs holdout outcome rates, the difference with its interval, opt-out rate."""
    days = min(max(days, 1), 366)
    rows = [r.to_dict() for r in results(session=session, now=now_utc(), days=days)]
    replies = [m.to_dict() for m in measures_since(session=session, since=now_utc() - dt.timedelta(days=days))]
    return render(request, "results.html", principal, "Results per rule", "results", results=rows, confidence=0.95,
                  replies=replies)
