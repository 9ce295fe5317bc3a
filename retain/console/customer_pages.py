"""The console's customer pages: search (id prefix, e-mail, phone), lists by signal, outcome or rule, the timeline.

The search box posts (an e-mail address or phone number never lands in a URL, a browser history
or an access log); a search that finds exactly one customer opens their timeline.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from retain.console import rule_actions
from retain.console.auth import Principal, db, page, request_now
from retain.console.customer import customer_timeline
from retain.console.customer_search import (
    MAX_QUERY_CHARS,
    SearchRefused,
    classify,
    customer_list,
    find_customers,
    summaries,
)
from retain.console.pages import render
from signals.signal import SIGNAL_KINDS
from triggers.policy.reasons import Outcome

router = APIRouter(prefix="/console", include_in_schema=False)
OUTCOMES = tuple(o.value for o in Outcome)


def _rule_ids(request: Request) -> list[str]:
    try:
        return [r.id for r in rule_actions.load(request.app.state.settings)]
    except rule_actions.RulesUnavailable:
        return []


def _page(request: Request, session: Session, principal: Principal, *, rows: list[dict] | None = None,
          f: dict | None = None, heading: str = "", flash: str | None = None, status_code: int = 200) -> HTMLResponse:
    f = f or {"signal": "", "outcome": "", "rule": "", "days": 30}
    if rows is None:
        ids = customer_list(session=session, now=request_now(request), signal=f["signal"] or None,
                            outcome=f["outcome"] or None, rule=f["rule"] or None, days=f["days"])
        rows = summaries(session=session, customer_ids=ids)
    return render(request, "customers.html", principal, "Customers", "customers", status_code=status_code,
                  rows=rows, f=f, heading=heading, flash=flash, flash_kind="error" if flash else "ok",
                  signal_kinds=SIGNAL_KINDS, outcomes=OUTCOMES, rule_ids=_rule_ids(request),
                  max_query=MAX_QUERY_CHARS, crumbs=[("Customers", None)])


@router.get("/customers", response_class=HTMLResponse)
def customers_page(request: Request, customer_id: str = "", signal: str = "", outcome: str = "", rule: str = "",
                   days: int = 30, session: Session = Depends(db),
                   principal: Principal = Depends(page("read"))) -> Response:
    """Search, and the customers whose recent decisions match the filters (all recent ones without filters)."""
    if customer_id.strip():  # an old bookmark or link: open the timeline
        return RedirectResponse(f"/console/customers/{customer_id.strip()}", status_code=303)
    f = {"signal": signal if signal in SIGNAL_KINDS else "", "outcome": outcome if outcome in OUTCOMES else "",
         "rule": rule[:64], "days": min(max(days, 1), 366)}
    filtered = any(f[k] for k in ("signal", "outcome", "rule"))
    heading = "Matching customers" if filtered else f"Customers with a decision in the last {f['days']} days"
    return _page(request, session, principal, f=f, heading=heading)


@router.post("/customers/search", response_class=HTMLResponse)
def customers_search(request: Request, q: str = Form(""), session: Session = Depends(db),
                     principal: Principal = Depends(page("read"))) -> Response:
    """Find customers by id prefix, e-mail address or phone number; one match opens the timeline."""
    try:
        query = classify(q)
    except SearchRefused as exc:
        return _page(request, session, principal, rows=[], flash=f"Not searched: {exc}.", status_code=422)
    key = request.app.state.settings.contact_hash_key.get_secret_value().encode()
    ids = find_customers(session=session, query=query, key=key)
    if len(ids) == 1 and (query.kind != "id" or ids[0] == query.value):
        return RedirectResponse(f"/console/customers/{ids[0]}", status_code=303)
    what = {"id": "ids starting with what you typed", "email": "that e-mail address",
            "phone": "that phone number"}[query.kind]
    return _page(request, session, principal, rows=summaries(session=session, customer_ids=ids),
                 heading=f"{len(ids)} customer{'' if len(ids) == 1 else 's'} with {what}")


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(customer_id: str, request: Request, days: int = 90, session: Session = Depends(db),
                  principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """One customer's timeline: signals, decisions with reasons, messages with their text and replies, consent."""
    data = customer_timeline(session=session, customer_id=customer_id, now=request_now(request),
                             days=min(max(days, 1), 3660))
    return render(request, "customer.html", principal, f"Customer {customer_id}", "customers",
                  customer_id=customer_id, data=data, crumbs=[("Customers", "/console/customers"), (customer_id, None)])
