"""Ingest credentials in the console: the ``/console/producers`` page and ``/api/producers`` (admins only).

Both go through ``retain.producers.service``, which writes the console audit; a new secret is in
the one answer that creates it and nowhere else.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from retain.console.auth import Principal, db, now_utc, page, require
from retain.console.pages import render
from retain.producers.records import IngestCredentialRecord
from retain.producers.scopes import EVENTS, SCOPES
from retain.producers.service import NAME_PATTERN, create_credential, list_credentials, revoke_credential

api_router = APIRouter(prefix="/api", tags=["console"])
page_router = APIRouter(prefix="/console", include_in_schema=False)
ScopeName = Literal[tuple(SCOPES)]  # type: ignore[valid-type]


class NewProducer(BaseModel):
    """An ingest credential to create."""

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN.pattern,
                      description="what sends with it, e.g. storefront")
    scopes: list[ScopeName] = Field(default=[EVENTS], min_length=1, description="; ".join(f"{k}: {v}" for k, v in SCOPES.items()))


def producer_view(record: IngestCredentialRecord) -> dict[str, Any]:
    """A credential as the API and the page show it (never the secret or its digest)."""
    def when(value):
        return value.isoformat() if value else None

    return {"credential_id": record.credential_id, "name": record.name, "scopes": list(record.scopes),
            "active": record.revoked_at is None, "created_at": when(record.created_at),
            "created_by": record.created_by, "revoked_at": when(record.revoked_at), "revoked_by": record.revoked_by,
            "last_used_at": when(record.last_used_at)}


@api_router.get("/producers")
def get_producers(session: Session = Depends(db), _: Principal = Depends(require("admin"))) -> list[dict[str, Any]]:
    """Every ingest credential with its scopes, state and last use."""
    return [producer_view(r) for r in list_credentials(session=session)]


@api_router.post("/producers", status_code=201, responses={409: {"description": "an active credential has that name"}})
def post_producer(body: NewProducer, session: Session = Depends(db),
                  principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Create an ingest credential; the secret is in this answer only (it is stored hashed)."""
    try:
        secret, record = create_credential(session=session, name=body.name, scopes=body.scopes,
                                           actor=principal.username, now=now_utc())
    except ValueError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, str(exc)) from None
    session.commit()
    return {**producer_view(record), "secret": secret}


@api_router.delete("/producers/{credential_id}", responses={404: {"description": "no such active credential"}})
def delete_producer(credential_id: str, session: Session = Depends(db),
                    principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Revoke an ingest credential (by id or active name): its requests get 401 from now on."""
    record = revoke_credential(session=session, ref=credential_id, actor=principal.username, now=now_utc())
    if record is None:
        raise HTTPException(404, f"no active ingest credential {credential_id!r}")
    session.commit()
    return producer_view(record)


def _page(request: Request, session: Session, principal: Principal, *, status_code: int = 200,
          **context: Any) -> HTMLResponse:
    return render(request, "producers.html", principal, "Producers", "producers", status_code=status_code,
                  producers=[producer_view(r) for r in list_credentials(session=session)], scopes=SCOPES, **context)


@page_router.get("/producers", response_class=HTMLResponse)
def producers_page(request: Request, session: Session = Depends(db),
                   principal: Principal = Depends(page("admin"))) -> HTMLResponse:
    """Ingest credentials: who may send events, with what scopes, and when they last did."""
    return _page(request, session, principal)


@page_router.post("/producers", response_class=HTMLResponse)
def producers_create(request: Request, name: str = Form(...), scopes: list[str] = Form([]),
                     session: Session = Depends(db), principal: Principal = Depends(page("admin"))) -> HTMLResponse:
    """Create a credential and show its secret once."""
    try:
        secret, record = create_credential(session=session, name=name.strip(), scopes=scopes,
                                           actor=principal.username, now=now_utc())
    except ValueError as exc:
        session.rollback()
        return _page(request, session, principal, status_code=400, flash=str(exc), flash_kind="error")
    session.commit()
    return _page(request, session, principal, secret=secret, flash=f"Credential {record.name} created.")


@page_router.post("/producers/{credential_id}/revoke")
def producers_revoke(credential_id: str, request: Request, session: Session = Depends(db),
                     principal: Principal = Depends(page("admin"))) -> Response:
    """Revoke a credential, then show the list again."""
    if revoke_credential(session=session, ref=credential_id, actor=principal.username, now=now_utc()) is None:
        return _page(request, session, principal, status_code=404, flash_kind="error",
                     flash=f"No active credential {credential_id!r}.")
    session.commit()
    return RedirectResponse("/console/producers", status_code=303)
