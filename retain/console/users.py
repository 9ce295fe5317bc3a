"""Service functions over users, API tokens, sessions, login tokens and the console audit. The caller commits."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from sqlalchemy import delete, select, update
from sqlmodel import Session

from retain.console.credentials import (
    ROLES,
    check_username,
    digest,
    dummy_hash,
    hash_password,
    new_secret,
    verify_password,
)
from retain.console.records import (
    ApiTokenRecord,
    ConsoleAuditRecord,
    KnownDeviceRecord,
    LoginTokenRecord,
    SessionRecord,
    UserRecord,
)

TOKEN_PREFIX = "rtn_"  # lets secret scanners and readers recognise a retain API token


def create_user(*, session: Session, username: str, role: str, password: str, now: dt.datetime) -> UserRecord:
    """Add a user; ValueError on an unknown role, a short password or a taken name."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    check_username(username)
    if session.get(UserRecord, username) is not None:
        raise ValueError(f"user {username!r} exists already")
    user = UserRecord(username=username, role=role, password_hash=hash_password(password), created_at=now)
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str,
                 verify: Callable[[str, str], bool] = verify_password) -> tuple[UserRecord | None, str]:
    """``(user, "ok")`` when the password matches an enabled account, else ``(None, why)``.

    Exactly one password check happens whatever the name: an unknown name is checked against a
    dummy hash, so the answer's timing does not tell which names exist.
    """
    user = _find(session, username)
    matches = verify(password, user.password_hash if user is not None else dummy_hash())
    if user is None:
        return None, "unknown user"
    if not matches:
        return None, "wrong password"
    if user.disabled:
        return None, "disabled"
    return user, "ok"


def _find(session: Session, username: str) -> UserRecord | None:
    # A name no user can have (too long, control characters PostgreSQL refuses) is not looked up.
    return session.get(UserRecord, username) if len(username) <= 64 and username.isprintable() else None


def _user(session: Session, username: str) -> UserRecord:
    user = _find(session, username)
    if user is None:
        raise ValueError(f"no user {username!r}")
    return user


def sign_out_everywhere(*, session: Session, username: str, now: dt.datetime) -> tuple[int, int]:
    """End every session of the user and revoke every API token: ``(sessions ended, tokens revoked)``."""
    _user(session, username)
    ended = session.execute(delete(SessionRecord).where(SessionRecord.username == username)).rowcount
    session.execute(delete(KnownDeviceRecord).where(KnownDeviceRecord.username == username))
    revoked = session.execute(update(ApiTokenRecord).where(ApiTokenRecord.username == username,
                                                           ApiTokenRecord.revoked_at.is_(None))
                              .values(revoked_at=now)).rowcount
    return ended, revoked


def set_disabled(*, session: Session, username: str, disabled: bool, now: dt.datetime) -> tuple[int, int]:
    """Disable (and sign out everywhere) or enable a user: ``(sessions ended, tokens revoked)``."""
    user = _user(session, username)
    user.disabled = disabled
    session.add(user)
    return sign_out_everywhere(session=session, username=username, now=now) if disabled else (0, 0)


def list_users(*, session: Session) -> list[UserRecord]:
    """All users by name."""
    return list(session.scalars(select(UserRecord).order_by(UserRecord.username)))


def create_token(*, session: Session, username: str, name: str, now: dt.datetime) -> tuple[str, ApiTokenRecord]:
    """A new API token for ``username``: the secret (shown once) and its stored record."""
    if _user(session, username).disabled:
        raise ValueError(f"user {username!r} is disabled")
    secret = TOKEN_PREFIX + new_secret()
    record = ApiTokenRecord(token_id=new_secret()[:12], token_hash=digest(secret), username=username,
                            name=name, created_at=now)
    session.add(record)
    session.flush()
    return secret, record


def revoke_token(*, session: Session, token_id: str, now: dt.datetime) -> bool:
    """Revoke a token; False when there is no such active token."""
    record = session.get(ApiTokenRecord, token_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now
    session.add(record)
    return True


def user_for_token(*, session: Session, secret: str) -> UserRecord | None:
    """The enabled user an active API token belongs to, or None."""
    query = select(ApiTokenRecord).where(ApiTokenRecord.token_hash == digest(secret), ApiTokenRecord.revoked_at.is_(None))
    token = session.scalars(query).first()
    if token is None:
        return None
    user = session.get(UserRecord, token.username)
    return user if user is not None and not user.disabled else None


def start_session(*, session: Session, username: str, now: dt.datetime, lifetime: dt.timedelta) -> tuple[str, SessionRecord]:
    """A new login session: the cookie value (shown once) and its record with the CSRF token."""
    secret = new_secret()
    record = SessionRecord(session_hash=digest(secret), username=username, csrf_token=new_secret(),
                           created_at=now, expires_at=now + lifetime)
    session.add(record)
    # Logging in is a good moment to forget sessions that ran out.
    session.execute(delete(SessionRecord).where(SessionRecord.expires_at < now))
    session.flush()
    return secret, record


def session_of(*, session: Session, secret: str, now: dt.datetime) -> tuple[SessionRecord, UserRecord] | None:
    """The live session and its enabled user for a cookie value, or None."""
    record = session.get(SessionRecord, digest(secret))
    if record is None or record.expires_at <= now:
        return None
    user = session.get(UserRecord, record.username)
    if user is None or user.disabled:
        return None
    return record, user


def end_session(*, session: Session, secret: str) -> None:
    """Forget a session (log out)."""
    session.execute(delete(SessionRecord).where(SessionRecord.session_hash == digest(secret)))


def known_device(*, session: Session, secret: str, username: str) -> bool:
    """True when the device cookie ``secret`` belongs to a browser ``username`` logged in from before."""
    record = session.get(KnownDeviceRecord, digest(secret)) if secret else None
    return record is not None and record.username == username


def remember_device(*, session: Session, secret: str | None, username: str, now: dt.datetime,
                    lifetime: dt.timedelta) -> str:
    """After a login: the device cookie to set (the browser's own if it is this user's, else a new one)."""
    if secret and known_device(session=session, secret=secret, username=username):
        session.get(KnownDeviceRecord, digest(secret)).last_login_at = now
        return secret
    session.execute(delete(KnownDeviceRecord).where(KnownDeviceRecord.last_login_at < now - lifetime))
    fresh = new_secret()
    session.add(KnownDeviceRecord(device_hash=digest(fresh), username=username, created_at=now, last_login_at=now))
    return fresh


def issue_login_token(*, session: Session, now: dt.datetime, lifetime: dt.timedelta) -> str:
    """A login form's CSRF token, good for one attempt (its digest is stored until it expires)."""
    session.execute(delete(LoginTokenRecord).where(LoginTokenRecord.expires_at < now))
    secret = new_secret()
    session.add(LoginTokenRecord(token_hash=digest(secret), expires_at=now + lifetime))
    session.flush()
    return secret


def use_login_token(*, session: Session, secret: str, now: dt.datetime) -> bool:
    """Spend a login token: True once for a live one, False for an unknown, used or expired one."""
    if not secret:
        return False
    result = session.execute(delete(LoginTokenRecord).where(LoginTokenRecord.token_hash == digest(secret),
                                                            LoginTokenRecord.expires_at > now))
    return result.rowcount == 1


def audit(*, session: Session, actor: str, action: str, target: str, now: dt.datetime,
          detail: dict[str, Any] | None = None) -> None:
    """Append one console audit row."""
    session.add(ConsoleAuditRecord(at=now, actor=actor, action=action, target=target, detail=detail or {}))


def list_audit(*, session: Session, target: str | None = None, limit: int = 100) -> list[ConsoleAuditRecord]:
    """The newest console audit rows, optionally about one target."""
    query = select(ConsoleAuditRecord).order_by(ConsoleAuditRecord.id.desc()).limit(limit)
    if target is not None:
        query = query.where(ConsoleAuditRecord.target == target)
    return list(session.scalars(query))
