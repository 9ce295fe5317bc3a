"""Database tables of the console: users, API tokens, login sessions, login throttling and the console audit log.

Secrets are never stored: passwords as scrypt hashes, API tokens and session ids as SHA-256
digests (they are long random strings, so a plain digest is enough to make a leaked table useless).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime


class UserRecord(SQLModel, table=True):
    """One console user with one role."""

    __tablename__ = "console_users"

    username: str = Field(primary_key=True, sa_type=sa.String(64))
    role: str = Field(sa_type=sa.String(16), nullable=False)
    password_hash: str = Field(sa_type=sa.String(256), nullable=False)
    disabled: bool = Field(default=False, sa_type=sa.Boolean, nullable=False)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class ApiTokenRecord(SQLModel, table=True):
    """An API token for machine access, acting as its user; only the digest is kept."""

    __tablename__ = "console_api_tokens"

    token_id: str = Field(primary_key=True, sa_type=sa.String(16))
    token_hash: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    username: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    name: str = Field(sa_type=sa.String(100), nullable=False)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class SessionRecord(SQLModel, table=True):
    """A logged-in browser session; the cookie holds the id, the table its digest."""

    __tablename__ = "console_sessions"

    session_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    username: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    csrf_token: str = Field(sa_type=sa.String(64), nullable=False)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class ConsoleAuditRecord(SQLModel, table=True):
    """One write made through the console or its API: who, when, what, on which object."""

    __tablename__ = "console_audit"

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.Integer)
    at: dt.datetime = Field(sa_type=UtcDateTime, index=True, nullable=False)
    actor: str = Field(sa_type=sa.String(64), nullable=False)
    action: str = Field(sa_type=sa.String(32), nullable=False)
    target: str = Field(sa_type=sa.String(200), nullable=False)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


class LoginThrottleRecord(SQLModel, table=True):
    """Recent failed logins of one user name or one client address, and until when it must wait.

    ``key`` is ``name:<sha256 of the name>`` or ``addr:<address or IPv6 /64>``: a name typed by
    mistake into the wrong field (a password) is never stored. ``generation`` grows with every
    write so concurrent attempts update the row compare-and-swap, never both.
    """

    __tablename__ = "console_login_throttle"

    key: str = Field(primary_key=True, sa_type=sa.String(80))
    failures: int = Field(default=0, sa_type=sa.Integer, nullable=False)
    blocked_until: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime, index=True, nullable=False)
    generation: int = Field(default=0, sa_type=sa.Integer, nullable=False)


class LoginTokenRecord(SQLModel, table=True):
    """A login form's CSRF token (its digest): good for one attempt, until it expires."""

    __tablename__ = "console_login_tokens"

    token_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    expires_at: dt.datetime = Field(sa_type=UtcDateTime, index=True, nullable=False)


class KnownDeviceRecord(SQLModel, table=True):
    """A browser a user logged in from (its cookie's digest): it gets its own login budget.

    A stranger guessing a name makes that name wait; the user's own browser, recognised by this
    cookie, is counted on its own key instead, so the stranger cannot lock the real user out.
    """

    __tablename__ = "console_known_devices"

    device_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    username: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    last_login_at: dt.datetime = Field(sa_type=UtcDateTime, index=True, nullable=False)
