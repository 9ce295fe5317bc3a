"""The rule editor's pages: the builder form beside the YAML, preview, backtest with charts, save; a new rule.

One form (``#rule-form``) holds the builder fields (``r.*``), the YAML and the action buttons.
The YAML is what is saved, backtested and previewed; the builder writes it. With JavaScript the
two stay in step as you type (``POST /console/rule-builder``); without it the builder's buttons
submit the form and the page comes back with the YAML rewritten from the form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import func, select
from sqlmodel import Session

from retain.console import reputation_view, rule_actions, rule_backtest
from retain.console.auth import Principal, db, page, request_now
from triggers.rule_proposals import list_proposals
from retain.console.backtest_charts import backtest_charts
from retain.console.pages import render, render_fragment, saved_flash
from retain.console.rule_builder import NEW_RULE, BuilderState, from_form, from_yaml
from retain.console.rule_editing import MAX_RULE_TEXT_CHARS, validate_rule_text
from retain.console.rule_form import PREFIX
from retain.console.rule_preview import PreviewRefused, preview
from signals.records import SignalRecord

router = APIRouter(prefix="/console", include_in_schema=False)
ACTIONS = ("save", "backtest", "preview")


async def builder_fields(request: Request) -> list[tuple[str, str]]:
    """The posted builder fields (``r.*``) in posting order (the form is parsed once and cached)."""
    form = await request.form()
    return [(name, value) for name, value in form.multi_items()
            if name.startswith(f"{PREFIX}.") and isinstance(value, str)]


@dataclass(frozen=True)
class RulePost:
    """One post of the rule form: the YAML, the button pressed, the windows and pickers, the builder fields."""

    yaml: str
    action: str
    start: str
    end: str
    edit: str
    preview_customer: str
    preview_sample: str
    risk_bucket: str
    pairs: list[tuple[str, str]]


def rule_post(yaml: str = Form("", max_length=MAX_RULE_TEXT_CHARS), action: str = Form(""), start: str = Form(""),
              end: str = Form(""), edit: str = Form(""), preview_customer: str = Form(""),
              preview_sample: str = Form(""), risk_bucket: str = Form("high"),
              pairs: list[tuple[str, str]] = Depends(builder_fields)) -> RulePost:
    """The rule form as posted (a dependency, shared by the rule page and the new-rule page)."""
    return RulePost(yaml, action, start, end, edit, preview_customer, preview_sample, risk_bucket, pairs)


def recent_customers(*, session: Session, kinds: list[str], limit: int = 30) -> list[str]:
    """Customers with the most recent signals of ``kinds`` (any kind when empty), for the preview picker."""
    query = select(SignalRecord.customer_id)
    if kinds:
        query = query.where(SignalRecord.kind.in_(kinds))
    latest = func.max(SignalRecord.detected_at)
    rows = session.execute(query.group_by(SignalRecord.customer_id).order_by(latest.desc()).limit(limit))
    return [row[0] for row in rows]


def _rule_page(request: Request, session: Session, principal: Principal, rule_id: str | None, *,
               text: str | None = None, errors: list | None = None, flash: str | None = None, flash_kind: str = "ok",
               start: str | None = None, end: str | None = None, status_code: int = 200, unavailable: str = "",
               **extra: Any) -> HTMLResponse:
    """The rule page (``rule_id`` None: a new rule) with what this request adds (preview, backtest, builder)."""
    settings = request.app.state.settings
    try:
        ruleset = rule_actions.load(settings)
    except rule_actions.RulesUnavailable as exc:
        unavailable = str(exc)
    if unavailable:
        return render(request, "error.html", principal, "Rule", "rules", status_code=503,
                      message=f"The rule files do not load: {unavailable}")
    rule = ruleset.get(rule_id) if rule_id else None
    if rule_id and rule is None:
        return render(request, "error.html", principal, "Rule", "rules", status_code=404, message=(
            f"No rule {rule_id!r}. It may be waiting for approval under Rule changes, or build it under New rule."))
    text = text if text is not None else rule_actions.rule_yaml(rule or NEW_RULE)
    if extra.get("content") is None:  # the form shows what the YAML says (else the rule as stored)
        extra["content"] = from_yaml(text).content or (rule.canonical() if rule else NEW_RULE)
    today = request_now(request).date()
    title = f"Rule {rule_id}" if rule_id else "New rule"
    crumbs = [("Rules", "/console/rules"), (rule_id or "New rule", None)]
    return render(request, "rule.html", principal, title, "rules", status_code=status_code, crumbs=crumbs,
                  rule=rule, is_new=rule is None, source=ruleset.sources.get(rule_id or ""), text=text,
                  errors=errors or [],
                  history=rule_actions.history(session=session, rule_id=rule_id) if rule_id else [],
                  can_edit=principal.may("rules"), flash=flash, flash_kind=flash_kind,
                  proposals=list_proposals(session=session, rule_id=rule_id) if rule_id else [],
                  preview_customers=preview_choices(session=session, content=extra["content"]),
                  guard=reputation_view.guard_view(session=session, settings=settings, rule_id=rule_id,
                                                   now=request_now(request)) if rule_id else None,
                  start=start or (today - dt.timedelta(days=30)).isoformat(), end=end or today.isoformat(),
                  **{"builder_errors": {}, **extra})


@router.get("/rules/{rule_id}", response_class=HTMLResponse)
def rule_page(rule_id: str, request: Request, done: str = "", session: Session = Depends(db),
              principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """One rule: the builder and its YAML, preview, backtest, enable/disable, version history, a pending proposal."""
    return _rule_page(request, session, principal, rule_id, flash=done[:300] or None,
                      flash_kind="proposed" if "waits for a different approver" in done else "ok")


@router.post("/rules/{rule_id}", response_class=HTMLResponse)
def rule_submit(rule_id: str, request: Request, post: RulePost = Depends(rule_post), session: Session = Depends(db),
                principal: Principal = Depends(page("rules"))) -> HTMLResponse:
    """Save the edited rule (or propose it), backtest or preview it without saving, or apply a builder edit."""
    return submit(request, session, principal, rule_id, post)


def _state(text: str, pairs: list[tuple[str, str]], *, edit: str, rule_id: str | None,
           existing: list[str]) -> BuilderState:
    """The builder after this post: the form's edit applied (YAML rewritten), else the form read from the YAML."""
    if edit:
        return from_form(pairs, edit=edit, expected_id=rule_id, existing=existing)
    state = from_yaml(text, expected_id=rule_id, existing=existing)
    if state.content is None and pairs:  # the YAML does not read: the form keeps what the user had
        return BuilderState(content=from_form(pairs).content, yaml=text, valid=False, errors=state.errors)
    return state


def _window(start: str, end: str, today: dt.date) -> tuple[dt.datetime, dt.datetime]:

    def day(value: str, fallback: dt.date, days_after: int = 0) -> dt.datetime:
        try:
            parsed = dt.date.fromisoformat(value) + dt.timedelta(days=days_after)
        except (ValueError, OverflowError):  # empty, unreadable, or past 9999-12-31
            parsed = fallback + dt.timedelta(days=days_after)
        return dt.datetime.combine(parsed, dt.time(), dt.timezone.utc)

    return day(start, today - dt.timedelta(days=30)), day(end, today, 1)


def submit(request: Request, session: Session, principal: Principal, rule_id: str | None,
           post: RulePost) -> HTMLResponse:
    """One post of the rule form: a builder edit, a preview, a backtest or a save (``rule_id`` None: a new rule)."""
    yaml, action, start, end, edit = post.yaml, post.action, post.start, post.end, post.edit
    settings = request.app.state.settings
    try:
        ruleset = rule_actions.load(settings)
    except rule_actions.RulesUnavailable as exc:
        return _rule_page(request, session, principal, rule_id, status_code=503, unavailable=str(exc))
    existing = [] if rule_id else [r.id for r in ruleset]
    state = _state(yaml, post.pairs, edit=edit, rule_id=rule_id, existing=existing)
    common = {"content": state.content, "builder_errors": state.errors_by_path(), "start": start, "end": end,
              "preview_customer": post.preview_customer, "preview_sample": post.preview_sample,
              "risk_bucket": post.risk_bucket}
    if edit or action not in ACTIONS:
        return _rule_page(request, session, principal, rule_id, text=state.yaml, **common)
    rule, errors = validate_rule_text(yaml, expected_id=rule_id)
    errors = errors or [e for e in state.errors if e["field"] == "id"]  # a new rule may not take an existing id
    if rule is None or errors:
        flash = "Not saved: fix the errors below." if action == "save" else f"Cannot {action}: fix the errors below."
        return _rule_page(request, session, principal, rule_id, text=yaml, errors=errors, flash=flash,
                          flash_kind="error", status_code=422, **common)
    if action == "preview":
        try:
            result = preview(session=session, settings=settings, ruleset=ruleset, rule=rule, now=request_now(request),
                             customer_id=post.preview_customer.strip() or None,
                             sample=post.preview_sample or None, risk_bucket=post.risk_bucket)
        except PreviewRefused as exc:
            return _rule_page(request, session, principal, rule_id, text=yaml, flash=f"No preview: {exc}",
                              flash_kind="error", status_code=422, **common)
        return _rule_page(request, session, principal, rule_id, text=yaml, preview=result, **common)
    window = _window(start, end, request_now(request).date())
    if action == "backtest":
        result = rule_backtest.backtest(settings=settings, ruleset=ruleset, rule_id=rule.id, text=yaml,
                                        start=window[0], end=window[1])
        charts = backtest_charts(result, *window) if result["report"] else None
        return _rule_page(request, session, principal, rule_id, text=yaml, errors=result["errors"],
                          backtest=result if result["report"] else None, charts=charts,
                          status_code=422 if result["errors"] else 200, **common)
    result = rule_actions.save(session=session, settings=settings, actor=principal.username, rule_id=rule.id,
                               text=yaml, now=request_now(request), window=window)
    if result["errors"]:
        return _rule_page(request, session, principal, rule_id, text=yaml, errors=result["errors"],
                          flash="Not saved: fix the errors below.", flash_kind="error", status_code=422, **common)
    if rule_id is None:  # a new rule is always a proposal: stay here and say where it waits
        return _rule_page(request, session, principal, None, text=yaml, flash=saved_flash(result),
                          flash_kind="proposed", proposal=result.get("proposal"), **common)
    return _rule_page(request, session, principal, rule_id, flash=saved_flash(result),
                      flash_kind="proposed" if result["pending"] else "ok", start=start, end=end)


@router.get("/new-rule", response_class=HTMLResponse)
def new_rule_page(request: Request, session: Session = Depends(db),
                  principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """An empty rule in the builder: fill the form, preview, backtest, then propose it."""
    return _rule_page(request, session, principal, None, content=NEW_RULE, builder_errors={})


@router.post("/new-rule", response_class=HTMLResponse)
def new_rule_submit(request: Request, post: RulePost = Depends(rule_post), session: Session = Depends(db),
                    principal: Principal = Depends(page("rules"))) -> HTMLResponse:
    """A builder edit, preview, backtest or save (as a proposal) of a new rule."""
    return submit(request, session, principal, None, post)


@router.post("/rule-builder")
def builder_sync(request: Request, source: str = Form("form"),
                 yaml: str = Form("", max_length=MAX_RULE_TEXT_CHARS), edit: str = Form(""), rule_id: str = Form(""),
                 pairs: list[tuple[str, str]] = Depends(builder_fields),
                 _: Principal = Depends(page("read"))) -> JSONResponse:
    """The live builder: the form (with an edit) or the YAML in; the YAML, errors and the re-rendered form out."""
    existing: list[str] = []
    if not rule_id:
        try:
            existing = [r.id for r in rule_actions.load(request.app.state.settings)]
        except rule_actions.RulesUnavailable:
            existing = []
    expected = rule_id or None
    if source == "yaml":
        state = from_yaml(yaml, expected_id=expected, existing=existing)
    else:
        state = from_form(pairs, edit=edit, expected_id=expected, existing=existing)
    html = None
    if state.content is not None:
        html = render_fragment(request, "rule_builder.html", content=state.content,
                               builder_errors=state.errors_by_path(), is_new=not rule_id, can_edit=True)
    return JSONResponse({**state.to_dict(), "html": html})


def preview_choices(*, session: Session, content: dict[str, Any] | None) -> list[str]:
    """Stored customers to offer in the preview picker: the latest with signals the rule reacts to."""
    kinds = [k for k in (content or {}).get("signals") or [] if isinstance(k, str)]
    return recent_customers(session=session, kinds=kinds)
