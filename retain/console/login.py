"""Logging in and out of the console.

The login form is protected against login CSRF with a double-submit token: the form carries a
random value that must equal a short-lived cookie set with the form. A successful login starts a
server-side session (cookie: http-only, SameSite=Strict, Secure unless turned off for plain-http
development) whose own CSRF token then guards every other form.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from retain.console.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, db, now_utc, page
from retain.console.credentials import new_secret
from retain.console.pages import render
from retain.console.users import audit, authenticate, end_session, start_session

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)


def _safe_next(value: str) -> str:
    # Only same-site paths: an attacker-supplied next=https://evil.example must not become a redirect.
    return value if value.startswith("/console") and not value.startswith("//") else "/console/"


def _cookie_options(request: Request) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.app.state.settings.console_cookie_secure,
            "path": "/"}


def login_form(request: Request, next_path: str = "/console/", *, error: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    """The login page with a fresh login-CSRF token in the form and a cookie."""
    token = new_secret()
    response = render(request, "login.html", None, "Log in", login_csrf=token, next_path=_safe_next(next_path),
                      flash=error, flash_kind="error", status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_options(request))
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/console/") -> HTMLResponse:  # noqa: A002 - the query name
    """The login form."""
    return login_form(request, next)


@router.post("/login")
def login_submit(request: Request, username: str = Form(...), password: str = Form(...),
                 csrf_token: str = Form(""), next: str = Form("/console/"),  # noqa: A002
                 session: Session = Depends(db)) -> Response:
    """Check the credentials; on success set the session cookie and go on to ``next``."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return login_form(request, next, error="The form expired; please log in again.", status_code=403)
    user = authenticate(session=session, username=username, password=password)
    now = now_utc()
    if user is None:
        log.info("console login refused", extra={"user": username[:64]})
        return login_form(request, next, error="Wrong user name or password.", status_code=401)
    hours = request.app.state.settings.console_session_hours
    secret, _ = start_session(session=session, username=user.username, now=now, lifetime=dt.timedelta(hours=hours))
    audit(session=session, actor=user.username, action="login", target=f"user:{user.username}", now=now)
    session.commit()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(hours * 3600), **_cookie_options(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: Session = Depends(db), principal=Depends(page("read"))) -> Response:
    """End the session and go back to the login form."""
    end_session(session=session, secret=request.cookies.get(SESSION_COOKIE, ""))
    audit(session=session, actor=principal.username, action="logout", target=f"user:{principal.username}", now=now_utc())
    session.commit()
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
