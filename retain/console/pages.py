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
from outreach.outbox.records import STATES
from retain.console import approvals, reputation_view, rule_actions, rule_backtest
from retain.console.auth import Principal, db, now_utc, page
from retain.console.charts import bar_chart, line_chart
from retain.console.customer import customer_timeline
from retain.console.messages import list_messages, message_entry
from retain.console.outcomes import results
from retain.console.overview import overview
from retain.console.users import audit
from triggers.rule_proposals import list_proposals

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


templates.env.globals.update(pct=pct, pp=pp)


def render(request: Request, name: str, principal: Principal | None, title: str, nav: str = "",
           status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the layout's common context."""
    return templates.TemplateResponse(request, name, {"principal": principal, "title": title, "nav": nav, **context},
                                      status_code=status_code)


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


def _rule_page(request: Request, session: Session, principal: Principal, rule_id: str, *, text: str | None = None,
               errors: list | None = None, backtest: dict | None = None, flash: str | None = None,
               flash_kind: str = "ok", start: str | None = None, end: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    try:
        ruleset = rule_actions.load(request.app.state.settings)
    except rule_actions.RulesUnavailable as exc:
        return render(request, "error.html", principal, "Rule", "rules", status_code=503,
                      message=f"The rule files do not load: {exc}")
    rule = ruleset.get(rule_id)
    if rule is None:
        return render(request, "error.html", principal, "Rule", "rules", status_code=404, message=f"No rule {rule_id!r}.")
    today = now_utc().date()
    return render(request, "rule.html", principal, f"Rule {rule_id}", "rules", status_code=status_code,
                  rule=rule, source=ruleset.sources.get(rule_id), text=text if text is not None else rule_actions.rule_yaml(rule),
                  errors=errors or [], backtest=backtest, history=rule_actions.history(session=session, rule_id=rule_id),
                  can_edit=principal.may("rules"), flash=flash, flash_kind=flash_kind,
                  proposals=list_proposals(session=session, rule_id=rule_id),
                  guard=reputation_view.guard_view(session=session, settings=request.app.state.settings,
                                                   rule_id=rule_id, now=now_utc()),
                  start=start or (today - dt.timedelta(days=30)).isoformat(), end=end or today.isoformat())


@router.get("/rules/{rule_id}", response_class=HTMLResponse)
def rule_page(rule_id: str, request: Request, done: str = "", session: Session = Depends(db),
              principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """One rule: the editor, enable/disable, backtest, version history, a pending proposal."""
    return _rule_page(request, session, principal, rule_id, flash=done[:300] or None)


def _day(value: str, fallback: dt.date, *, days_after: int = 0) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value) + dt.timedelta(days=days_after)
    except (ValueError, OverflowError):  # empty, unreadable, or a next day past 9999-12-31
        day = fallback + dt.timedelta(days=days_after)
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


@router.post("/rules/{rule_id}", response_class=HTMLResponse)
def rule_submit(rule_id: str, request: Request, yaml: str = Form(...), action: str = Form("save"),
                start: str = Form(""), end: str = Form(""), session: Session = Depends(db),
                principal: Principal = Depends(page("rules"))) -> HTMLResponse:
    """Save the edited rule, or backtest it without saving (``action=backtest``)."""
    settings = request.app.state.settings
    if action == "backtest":
        today = now_utc().date()
        window = (_day(start, today - dt.timedelta(days=30)), _day(end, today, days_after=1))
        try:
            ruleset = rule_actions.load(settings)
        except rule_actions.RulesUnavailable as exc:
            return render(request, "error.html", principal, "Rule", "rules", status_code=503,
                          message=f"The rule files do not load: {exc}")
        result = rule_backtest.backtest(settings=settings, ruleset=ruleset, rule_id=rule_id, text=yaml,
                                        start=window[0], end=window[1])
        return _rule_page(request, session, principal, rule_id, text=yaml, errors=result["errors"],
                          backtest=result if result["report"] else None, start=start, end=end,
                          status_code=422 if result["errors"] else 200)
    today = now_utc().date()
    window = (_day(start, today - dt.timedelta(days=30)), _day(end, today, days_after=1))
    result = rule_actions.save(session=session, settings=settings, actor=principal.username, rule_id=rule_id,
                               text=yaml, now=now_utc(), window=window)
    if result["errors"]:
        return _rule_page(request, session, principal, rule_id, text=yaml, errors=result["errors"],
                          flash="Not saved: fix the errors below.", flash_kind="error", status_code=422)
    return _rule_page(request, session, principal, rule_id, flash=_saved_flash(result), start=start, end=end)


def _saved_flash(result: dict[str, Any]) -> str:
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
    return RedirectResponse(f"/console/rules/{rule_id}?{urlencode({'done': _saved_flash(result)})}", status_code=303)


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


@router.get("/customers", response_class=HTMLResponse)
def customers_page(request: Request, customer_id: str = "", principal: Principal = Depends(page("read"))):
    """Find a customer by id."""
    if customer_id.strip():
        return RedirectResponse(f"/console/customers/{customer_id.strip()}", status_code=303)
    return render(request, "customer.html", principal, "Customer timeline", "customers", customer_id=None, data=None)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(customer_id: str, request: Request, days: int = 90, session: Session = Depends(db),
                  principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """One customer's timeline: signals, scores, decisions with reasons, messages, consent changes."""
    data = customer_timeline(session=session, customer_id=customer_id, now=now_utc(), days=min(max(days, 1), 3660))
    return render(request, "customer.html", principal, f"Customer {customer_id}", "customers",
                  customer_id=customer_id, data=data)


@router.get("/results", response_class=HTMLResponse)
def results_page(request: Request, days: int = 30, session: Session = Depends(db),
                 principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """Per rule: sent vs holdout outcome rates, the difference with its interval, opt-out rate."""
    rows = [r.to_dict() for r in results(session=session, now=now_utc(), days=min(max(days, 1), 366))]
    return render(request, "results.html", principal, "Results per rule", "results", results=rows, confidence=0.95)
