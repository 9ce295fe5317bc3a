"""Service functions over users, API tokens, sessions and the console audit. The caller commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session

from retain.console.credentials import ROLES, digest, hash_password, new_secret, verify_password
from retain.console.records import ApiTokenRecord, ConsoleAuditRecord, SessionRecord, UserRecord

TOKEN_PREFIX = "rtn_"  # lets secret scanners and readers recognise a retain API token


def create_user(*, session: Session, username: str, role: str, password: str, now: dt.datetime) -> UserRecord:
    """Add a user; ValueError on an unknown role, a short password or a taken name."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64:
        raise ValueError("username must be 1-64 characters")
    if session.get(UserRecord, username) is not None:
        raise ValueError(f"user {username!r} exists already")
    user = UserRecord(username=username, role=role, password_hash=hash_password(password), created_at=now)
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str) -> UserRecord | None:
    """The user when the password matches and the account is enabled, else None."""
    user = session.get(UserRecord, username)
    if user is None or user.disabled or not verify_password(password, user.password_hash):
        return None
    return user


def list_users(*, session: Session) -> list[UserRecord]:
    """All users by name."""
    return list(session.scalars(select(UserRecord).order_by(UserRecord.username)))


def create_token(*, session: Session, username: str, name: str, now: dt.datetime) -> tuple[str, ApiTokenRecord]:
    """A new API token for ``username``: the secret (shown once) and its stored record."""
    if session.get(UserRecord, username) is None:
        raise ValueError(f"no user {username!r}")
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
