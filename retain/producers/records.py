"""The ingest credentials table: one row per producer credential; only the secret's digest is kept."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime


class IngestCredentialRecord(SQLModel, table=True):
    """A producer's credential for ``/v1/events`` and ``/v1/segment``: name, scopes, life cycle, last use.

    The secret is 32 random bytes, so its SHA-256 digest is enough to make a leaked table useless.
    """

    __tablename__ = "ingest_credentials"

    credential_id: str = Field(primary_key=True, sa_type=sa.String(16))
    name: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    secret_hash: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    created_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    created_by: str = Field(sa_type=sa.String(64), nullable=False)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_by: str | None = Field(default=None, sa_type=sa.String(64))
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
