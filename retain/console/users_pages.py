"""The console's account pages (admins only): users, tokens, disable / enable / sign out everywhere.

The same service functions as the JSON API (``users``, ``accounts``), audited the same way.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from retain.console.accounts import ACTIONS, change_account
from retain.console.auth import Principal, db, page, request_now
from retain.console.credentials import ROLES
from retain.console.pages import render
from retain.console.users import audit, create_token, create_user, list_users

router = APIRouter(prefix="/console", include_in_schema=False)


def _users(request: Request, session: Session, principal: Principal, *, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    return render(request, "users.html", principal, "Users", "users", status_code=status_code,
                  users=list_users(session=session), roles=ROLES, **context)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, done: str = "", session: Session = Depends(db),
               principal: Principal = Depends(page("admin"))) -> HTMLResponse:
    """Users and tokens (admins only)."""
    return _users(request, session, principal, flash=done or None)


@router.post("/users", response_class=HTMLResponse)
def users_create(request: Request, username: str = Form(...), role: str = Form(...), password: str = Form(...),
                 session: Session = Depends(db), principal: Principal = Depends(page("admin"))) -> HTMLResponse:
    """Create a user (the same name check as the API and the CLI)."""
    now = request_now(request)
    try:
        create_user(session=session, username=username, role=role, password=password, now=now)
    except ValueError as exc:
        return _users(request, session, principal, status_code=400, flash=str(exc), flash_kind="error")
    audit(session=session, actor=principal.username, action="user.create", target=f"user:{username}", now=now,
          detail={"role": role})
    session.commit()
    return _users(request, session, principal, flash=f"User {username} created.")


@router.post("/users/{username}/{action}")
def users_action(username: str, action: str, request: Request, session: Session = Depends(db),
                 principal: Principal = Depends(page("admin"))) -> Response:
    """Disable, enable or sign out everywhere one user, then show the list again."""
    if action not in ACTIONS:
        return _users(request, session, principal, status_code=404, flash=f"No action {action!r}.", flash_kind="error")
    try:
        result = change_account(session=session, actor=principal.username, username=username, action=action,
                                now=request_now(request))
    except ValueError as exc:  # unknown user, or disabling oneself
        return _users(request, session, principal, status_code=409, flash=str(exc), flash_kind="error")
    session.commit()
    done = (f"{username}: {action}, {result['sessions_ended']} session(s) ended, "
            f"{result['tokens_revoked']} token(s) revoked.")
    return RedirectResponse(f"/console/users?done={done}", status_code=303)


@router.post("/tokens", response_class=HTMLResponse)
def tokens_create(request: Request, username: str = Form(...), name: str = Form(...), session: Session = Depends(db),
                  principal: Principal = Depends(page("admin"))) -> HTMLResponse:
    """Issue an API token and show it once."""
    now = request_now(request)
    try:
        secret, record = create_token(session=session, username=username, name=name, now=now)
    except ValueError as exc:
        return _users(request, session, principal, status_code=400, flash=str(exc), flash_kind="error")
    audit(session=session, actor=principal.username, action="token.create", target=f"user:{username}", now=now,
          detail={"token_id": record.token_id, "name": name})
    session.commit()
    return _users(request, session, principal, token=secret)
