"""Service functions over ingest credentials. The caller commits.

Creating and revoking write the console audit log here, so the CLI and the console cannot forget
it. A secret reads ``rti_`` + 43 URL-safe characters (secret scanners and readers recognise it) and
is returned once; only its SHA-256 digest is stored. The last use is recorded at most once a
minute per credential, so a busy producer does not turn every ingest request into a write.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import Engine, select
from sqlmodel import Session

from infra.settings import ProductionSettingsError, Settings
from retain.console.credentials import digest, new_secret
from retain.console.users import audit
from retain.producers.records import IngestCredentialRecord
from retain.producers.scopes import checked_scopes

SECRET_PREFIX = "rti_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LAST_USE_RESOLUTION = dt.timedelta(minutes=1)


def target(name: str) -> str:
    """How the console audit names a producer credential."""
    return f"producer:{name}"


def create_credential(*, session: Session, name: str, scopes: list[str], actor: str,
                      now: dt.datetime) -> tuple[str, IngestCredentialRecord]:
    """A new credential: the secret (shown once) and its record; ValueError for a bad or taken name or scope."""
    if not NAME_PATTERN.match(name):
        raise ValueError("name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    canonical = checked_scopes(scopes)
    if active_by_name(session=session, name=name) is not None:
        raise ValueError(f"an active credential named {name!r} exists already; revoke it first")
    secret = SECRET_PREFIX + new_secret()
    record = IngestCredentialRecord(credential_id=secrets.token_hex(6), name=name, secret_hash=digest(secret),
                                    scopes=canonical, created_at=now, created_by=actor)
    session.add(record)
    audit(session=session, actor=actor, action="producer.create", target=target(name), now=now,
          detail={"credential_id": record.credential_id, "scopes": canonical})
    session.flush()
    return secret, record


def active_by_name(*, session: Session, name: str) -> IngestCredentialRecord | None:
    """The active credential called ``name``, if any."""
    query = select(IngestCredentialRecord).where(IngestCredentialRecord.name == name,
                                                 IngestCredentialRecord.revoked_at.is_(None))
    return session.scalars(query).first()


def list_credentials(*, session: Session) -> list[IngestCredentialRecord]:
    """Every credential, active ones first, then by name."""
    query = select(IngestCredentialRecord).order_by(IngestCredentialRecord.revoked_at.is_not(None),
                                                    IngestCredentialRecord.name, IngestCredentialRecord.created_at)
    return list(session.scalars(query))


def revoke_credential(*, session: Session, ref: str, actor: str, now: dt.datetime) -> IngestCredentialRecord | None:
    """Revoke the active credential with id or name ``ref``; None when there is none."""
    record = session.get(IngestCredentialRecord, ref)
    if record is None or record.revoked_at is not None:
        record = active_by_name(session=session, name=ref)
    if record is None:
        return None
    record.revoked_at, record.revoked_by = now, actor
    session.add(record)
    audit(session=session, actor=actor, action="producer.revoke", target=target(record.name), now=now,
          detail={"credential_id": record.credential_id})
    return record


def authenticate(*, session: Session, secret: str, now: dt.datetime) -> IngestCredentialRecord | None:
    """The active credential with this secret (its last use recorded), or None."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    query = select(IngestCredentialRecord).where(IngestCredentialRecord.secret_hash == digest(secret),
                                                 IngestCredentialRecord.revoked_at.is_(None))
    record = session.scalars(query).first()
    if record is not None and (record.last_used_at is None or now - record.last_used_at >= LAST_USE_RESOLUTION):
        record.last_used_at = now
        session.add(record)
    return record


def any_active(*, session: Session) -> bool:
    """True when at least one credential is active."""
    query = select(IngestCredentialRecord.credential_id).where(IngestCredentialRecord.revoked_at.is_(None))
    return session.scalars(query.limit(1)).first() is not None


def require_ingest_credential(settings: Settings, engine: Engine | None) -> None:
    """Raise on unknown RETAIN_INGEST_TOKEN_SCOPES; outside development also unless a credential exists.

    A credential is RETAIN_INGEST_TOKEN or an active one in the database.
    """
    try:
        checked_scopes(settings.ingest_token_scopes)
    except ValueError as exc:
        raise ProductionSettingsError(f"RETAIN_INGEST_TOKEN_SCOPES: {exc}") from None
    if settings.is_development or settings.ingest_token is not None:
        return
    if engine is not None:
        with Session(engine) as session:
            if any_active(session=session):
                return
    raise ProductionSettingsError(
        f"RETAIN_ENVIRONMENT={settings.environment} (not development) refuses to start without an ingest "
        "credential: set RETAIN_INGEST_TOKEN or create one with `retain producers create NAME`")
