"""Logging in and out of the console.

The login form carries a CSRF token that is good for one attempt: its digest is stored when the
form is served and spent by the post, which must also carry it in a short-lived cookie (so a
page elsewhere cannot log a browser in, and a script cannot replay one pair). Each attempt is
then counted against the user name and the client address (``login_throttle``) before the
password is checked; one that must wait gets 429 with ``Retry-After`` and no password check. A
browser the user logged in from before carries a device cookie (path ``/console/login`` only) and
is counted on its own key instead of the name, so a stranger guessing the name cannot keep the
real user out. An
unknown name costs the same password check as a real one. Failed attempts are audited and
logged with the client address, never with the password (and an unknown name only as a digest:
people type passwords into the name field). A successful login ends any session the browser
already had and starts a new server-side one (cookie: http-only, SameSite=Strict, Secure unless
turned off for plain-http development) whose own CSRF token then guards every other form.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from retain.console import login_throttle
from retain.console.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE, db, page, request_address, request_now
from retain.console.backoff import retry_after_seconds
from retain.console.credentials import digest
from retain.console.pages import render
from retain.console.users import (
    audit,
    authenticate,
    end_session,
    issue_login_token,
    known_device,
    remember_device,
    start_session,
    use_login_token,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)
LOGIN_TOKEN_LIFETIME = dt.timedelta(minutes=30)
DEVICE_COOKIE = "retain_device"
DEVICE_LIFETIME = dt.timedelta(days=90)


def _safe_next(value: str) -> str:
    # Only same-site paths: an attacker-supplied next=https://evil.example must not become a redirect.
    return value if value.startswith("/console") and not value.startswith("//") else "/console/"


def _cookie_options(request: Request) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.app.state.settings.console_cookie_secure,
            "path": "/"}


def login_form(request: Request, session: Session, next_path: str = "/console/", *, error: str | None = None,
               status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The login page with a fresh single-use login-CSRF token in the form and a cookie (committed here)."""
    token = issue_login_token(session=session, now=request_now(request), lifetime=LOGIN_TOKEN_LIFETIME)
    session.commit()
    response = render(request, "login.html", None, "Log in", login_csrf=token, next_path=_safe_next(next_path),
                      flash=error, flash_kind="error", status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=int(LOGIN_TOKEN_LIFETIME.total_seconds()),
                        **_cookie_options(request))
    response.headers.update(headers or {})
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/console/",  # noqa: A002 - the query name
               session: Session = Depends(db)) -> HTMLResponse:
    """The login form."""
    return login_form(request, session, next)


def _who(username: str, known: bool) -> dict[str, str]:
    """Audit and log fields naming the attempted user: the name if it exists, else a digest of it."""
    return {"actor": username, "target": f"user:{username}"} if known else {
        "actor": "(unknown)", "target": f"name:{digest(username)[:16]}"}


@router.post("/login")
def login_submit(request: Request, username: str = Form(...), password: str = Form(...),
                 csrf_token: str = Form(""), next: str = Form("/console/"),  # noqa: A002
                 session: Session = Depends(db)) -> Response:
    """Check the credentials; on success set the session cookie and go on to ``next``."""
    now, address = request_now(request), request_address(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    fresh = bool(expected) and hmac.compare_digest(expected, csrf_token) and use_login_token(
        session=session, secret=csrf_token, now=now)
    session.commit()
    if not fresh:
        return login_form(request, session, next, error="The form expired; please log in again.", status_code=403)

    device = request.cookies.get(DEVICE_COOKIE, "")
    known = device if known_device(session=session, secret=device, username=username) else None
    keys = login_throttle.login_keys(username, address, known)
    attempt = login_throttle.begin(session=session, keys=keys, now=now)
    if not attempt.allowed:
        session.rollback()
        seconds = retry_after_seconds(attempt.wait)
        log.warning("console login refused: too many failed attempts", extra={"client": address,
                                                                             "retry_after": seconds})
        return login_form(request, session, next, status_code=429, headers={"Retry-After": str(seconds)},
                          error=f"Too many failed attempts. Try again in {seconds} seconds.")
    session.commit()  # the attempt is counted before the password is checked

    user, why = authenticate(session=session, username=username, password=password)
    if user is None:
        who = _who(username, why != "unknown user")
        wait = max(claim.after.blocked_until for claim in attempt.claims) - now
        detail = {"address": address, "reason": why}
        if wait > dt.timedelta(0):
            detail["wait_seconds"] = retry_after_seconds(wait)
        audit(session=session, action="login.failed", now=now, detail=detail, **who)
        session.commit()
        log.warning("console login refused", extra={"client": address, "user": who["actor"], "reason": why})
        return login_form(request, session, next, error="Wrong user name or password.", status_code=401)

    login_throttle.succeeded(session=session, attempt=attempt, reset=keys[0][0], now=now)
    device = remember_device(session=session, secret=device, username=user.username, now=now, lifetime=DEVICE_LIFETIME)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        end_session(session=session, secret=previous)  # a new id at every login: no fixation, no reuse
    hours = request.app.state.settings.console_session_hours
    secret, _ = start_session(session=session, username=user.username, now=now, lifetime=dt.timedelta(hours=hours))
    audit(session=session, actor=user.username, action="login", target=f"user:{user.username}", now=now,
          detail={"address": address})
    session.commit()
    log.info("console login", extra={"client": address, "user": user.username})
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(hours * 3600), **_cookie_options(request))
    response.set_cookie(DEVICE_COOKIE, device, max_age=int(DEVICE_LIFETIME.total_seconds()),
                        **{**_cookie_options(request), "path": "/console/login"})
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: Session = Depends(db), principal=Depends(page("read"))) -> Response:
    """End the session and go back to the login form."""
    end_session(session=session, secret=request.cookies.get(SESSION_COOKIE, ""))
    audit(session=session, actor=principal.username, action="logout", target=f"user:{principal.username}",
          now=request_now(request))
    session.commit()
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
