"""Who is asking, and may they: session cookies or API tokens, roles, and CSRF, as FastAPI dependencies.

Browsers log in and carry an http-only, SameSite=Strict session cookie (Secure unless a local
development setting turns it off); every state-changing request made with that cookie must also
carry the session's CSRF token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header.
Machines send ``Authorization: Bearer rtn_...``; a bearer token is not ambient, so it needs no CSRF
token. JSON routes answer 401/403; pages send anonymous visitors to the login form instead.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from retain.console.client_address import client_address, networks
from retain.console.credentials import allowed
from retain.console.users import session_of, user_for_token
from infra.database import session_scope

SESSION_COOKIE = "retain_session"
LOGIN_CSRF_COOKIE = "retain_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: user name, role, how they proved it, and the session's CSRF token."""

    username: str
    role: str
    via: str  # "session" | "token"
    csrf_token: str = ""

    def may(self, permission: str) -> bool:
        """True when the caller's role carries ``permission``."""
        return allowed(self.role, permission)


class LoginRequired(Exception):
    """Raised by page dependencies for anonymous visitors; the app answers with a redirect to login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__(next_path)


def now_utc() -> dt.datetime:
    """Wall-clock now (request handling is an adapter; the pure code below it takes ``now``)."""
    return dt.datetime.now(dt.timezone.utc)


def request_now(request: Request) -> dt.datetime:
    """Now for this request: the app's ``state.clock`` when one is set (tests move it), else the wall clock."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if callable(clock) else now_utc()


def request_address(request: Request) -> str:
    """The client's address; ``X-Forwarded-For`` counts only from ``settings.trusted_proxies``."""
    peer = request.client.host if request.client else None
    proxies = networks(request.app.state.settings.trusted_proxies)
    return client_address(peer, request.headers.get("x-forwarded-for"), proxies)


def db(request: Request) -> Iterator[Session]:
    """A database session for one request; the handler commits."""
    engine = request.app.state.engine
    if engine is None:
        raise HTTPException(503, "the console needs a database and none is configured")
    with session_scope(engine) as session:
        yield session


def _identify(request: Request, session: Session) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = user_for_token(session=session, secret=header[7:].strip())
        return Principal(user.username, user.role, "token") if user else None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = session_of(session=session, secret=cookie, now=request_now(request))
        if found is not None:
            record, user = found
            return Principal(user.username, user.role, "session", record.csrf_token)
    return None


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in SAFE_METHODS or principal.via != "session":
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        # Starlette caches the parsed form, so the handler's Form(...) parameters still see it.
        sent = (await request.form()).get(CSRF_FIELD)
    if not sent or not hmac.compare_digest(str(sent), principal.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token (send the form's csrf_token or the X-CSRF-Token header)")


def require(permission: str):
    """Dependency for JSON routes: 401 when anonymous, 403 without ``permission`` or with a bad CSRF token."""

    async def dependency(request: Request, session: Session = Depends(db)) -> Principal:
        principal = _identify(request, session)
        if principal is None:
            raise HTTPException(401, "log in or send an API token (Authorization: Bearer ...)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not principal.may(permission):
            raise HTTPException(403, f"role {principal.role!r} may not do this (needs {permission!r})")
        await _check_csrf(request, principal)
        return principal

    return dependency


def page(permission: str):
    """Dependency for HTML pages: anonymous visitors go to the login form, others as ``require``."""

    async def dependency(request: Request, session: Session = Depends(db)) -> Principal:
        principal = _identify(request, session)
        if principal is None:
            if request.method in SAFE_METHODS:
                raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            raise HTTPException(401, "log in first")
        if not principal.may(permission):
            raise HTTPException(403, f"role {principal.role!r} may not do this (needs {permission!r})")
        await _check_csrf(request, principal)
        return principal

    return dependency
