"""``/api/customers``: find customers by id prefix, e-mail or phone (keyed hash), and list them by what happened.

The search is a POST so an address travels in the body, never in a URL or an access log.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from retain.console.auth import Principal, db, require, request_now
from retain.console.customer_search import (
    MAX_QUERY_CHARS,
    MAX_RESULTS,
    SearchRefused,
    classify,
    customer_list,
    find_customers,
    summaries,
)
from signals.signal import SIGNAL_KINDS
from triggers.policy.reasons import Outcome

router = APIRouter(prefix="/api", tags=["console"])
SignalKind = Literal[SIGNAL_KINDS]  # type: ignore[valid-type]
OutcomeName = Literal[tuple(o.value for o in Outcome)]  # type: ignore[valid-type]


class CustomerSearch(BaseModel):
    """What was typed in the search box."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description=(
        "a customer id or its start, an e-mail address (has @) or a phone number in international form (+49 ...)"))
    limit: int = Field(default=50, ge=1, le=MAX_RESULTS)


NOT_A_QUERY = {422: {"description": "the query is neither an id, an e-mail address nor an international phone number"}}


@router.post("/customers/search", responses=NOT_A_QUERY)
def post_customer_search(body: CustomerSearch, request: Request, session: Session = Depends(db),
                         _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """Customers whose id starts with the query, or who hold the e-mail address or phone number (``kind`` says which)."""
    try:
        query = classify(body.query)
    except SearchRefused as exc:
        raise HTTPException(422, [{"loc": ["body", "query"], "msg": str(exc)}]) from None
    key = request.app.state.settings.contact_hash_key.get_secret_value().encode()
    ids = find_customers(session=session, query=query, key=key, limit=body.limit)
    return {"kind": query.kind, "customers": summaries(session=session, customer_ids=ids)}


@router.get("/customers")
def get_customers(request: Request, signal: SignalKind | None = None, outcome: OutcomeName | None = None,
                  rule: str | None = Query(None, max_length=64), days: int = Query(30, ge=1, le=366),
                  limit: int = Query(50, ge=1, le=MAX_RESULTS), session: Session = Depends(db),
                  _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Customers with a decision in the last ``days`` for this signal kind, outcome and rule (each optional)."""
    ids = customer_list(session=session, now=request_now(request), signal=signal, outcome=outcome, rule=rule, days=days,
                        limit=limit)
    return summaries(session=session, customer_ids=ids)
