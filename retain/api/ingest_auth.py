"""Who is sending events: an ingest credential from the ``Authorization`` header.

``Bearer <secret>``, or ``Basic`` with the secret as user name and an empty password (how Segment
sends its write key; a secret in the password field works too). The secret is compared with
``RETAIN_INGEST_TOKEN`` (constant time) and else looked up by digest among the active
per-producer credentials. Only in development, and only while no credential exists at all, is
ingest open to anonymous callers (the demo needs no setup); everywhere else a missing or wrong
credential is 401, and the service refuses to start without one.

A verified per-producer credential is remembered for ``ingest_credential_cache_seconds``
(``VerifiedCredentials``), so ingest with the Kafka broker keeps accepting through a database
blip shorter than that. The price: a revoked credential keeps working in a running process for
at most that long. Unknown secrets are never remembered (a new credential works at once).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from infra.settings import Settings
from retain.api.ingest_body import IngestRejected
from retain.producers import service as producers
from retain.producers.scopes import SCOPES

ENVIRONMENT_PRODUCER = "RETAIN_INGEST_TOKEN"


@dataclass(frozen=True)
class Producer:
    """The authenticated sender: its credential name and what it may send."""

    name: str
    scopes: frozenset[str]


def secret_from_header(header: str) -> str | None:
    """The secret of a ``Bearer`` or ``Basic`` authorization header, or None."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user or password or None
    return None


@dataclass
class VerifiedCredentials:
    """Producers whose secret the database verified, each for ``ttl`` seconds (keyed by the secret's digest)."""

    ttl: float
    clock: Callable[[], float] = time.monotonic
    _found: dict[bytes, tuple[float, Producer]] = field(default_factory=dict)

    @staticmethod
    def _key(secret: str) -> bytes:
        return hashlib.sha256(secret.encode()).digest()  # the secret itself is not kept in memory

    def get(self, secret: str) -> Producer | None:
        """The producer verified for this secret less than ``ttl`` seconds ago, or None."""
        found = self._found.get(self._key(secret))
        if found is None or self.clock() >= found[0]:
            return None
        return found[1]

    def remember(self, secret: str, producer: Producer) -> None:
        if self.ttl <= 0:
            return
        now = self.clock()
        self._found = {key: entry for key, entry in self._found.items() if entry[0] > now}  # drop the expired
        self._found[self._key(secret)] = (now + self.ttl, producer)


def _unauthorized(why: str) -> IngestRejected:
    return IngestRejected(401, {"detail": f"{why}: send an ingest credential as 'Authorization: Bearer ...' "
                                          "(or HTTP Basic with it as the user name)"},
                          {"WWW-Authenticate": 'Bearer, Basic realm="retain ingest"'})


def _lookup(engine: Engine, secret: str, now: dt.datetime) -> Producer | None:
    with Session(engine) as session:
        record = producers.authenticate(session=session, secret=secret, now=now)
        if record is None:
            return None
        producer = Producer(record.name, frozenset(record.scopes))
        session.commit()  # the last use, when it moved
    return producer


def _anyone_may_send(settings: Settings, engine: Engine | None) -> bool:
    if not settings.is_development or settings.ingest_token is not None:
        return False
    if engine is None:
        return True
    with Session(engine) as session:
        return not producers.any_active(session=session)


async def authenticate(request: Request, settings: Settings, now: dt.datetime, *, retry_after: int) -> Producer:
    """The producer behind this request, or ``IngestRejected``: 401, or 503 while the database is down."""
    try:
        return await _authenticate(request, settings, now)
    except SQLAlchemyError as exc:
        raise IngestRejected(503, {"detail": f"cannot check the ingest credential now ({type(exc).__name__}); retry"},
                             {"Retry-After": str(retry_after)}) from None


async def _authenticate(request: Request, settings: Settings, now: dt.datetime) -> Producer:
    engine: Engine | None = request.app.state.engine
    header = request.headers.get("authorization")
    if header is None:
        if await asyncio.to_thread(_anyone_may_send, settings, engine):
            return Producer("anonymous (development)", frozenset(SCOPES))
        raise _unauthorized("no ingest credential")
    secret = secret_from_header(header)
    if secret is None:
        raise _unauthorized("unreadable Authorization header")
    token = settings.ingest_token
    # compare_digest: the time taken must not reveal how much of the token was right.
    if token is not None and hmac.compare_digest(secret.encode(), token.get_secret_value().encode()):
        return Producer(ENVIRONMENT_PRODUCER, frozenset(settings.ingest_token_scopes))
    verified: VerifiedCredentials | None = getattr(request.app.state, "verified_credentials", None)
    found = verified.get(secret) if verified is not None else None
    if found is not None:
        return found
    found = await asyncio.to_thread(_lookup, engine, secret, now) if engine is not None else None
    if found is None:
        raise _unauthorized("unknown or revoked ingest credential")
    if verified is not None:
        verified.remember(secret, found)
    return found
