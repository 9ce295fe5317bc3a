"""What every webhook handler needs from the app: its settings slice, a session, form bodies, publishing.

Handlers read their dependencies from ``app.state`` (as ``retain.api`` does): ``settings`` (of
which they read only the ``webhooks`` slice, through ``webhook_settings``),
``engine``, and optionally ``consent_publisher`` (a ``ConsentPublisher``), ``support_handoff``
(an async callable receiving the context packet) and ``clock`` (returns aware now, for tests).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from sqlmodel import Session

from infra.settings import WebhookSettings
from outreach.consent.service import ConsentChange

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 64_000  # a Twilio webhook or a preference form is a few hundred bytes


def webhook_settings(request: Request) -> WebhookSettings:
    """The webhooks' slice of the app's settings."""
    return request.app.state.settings.webhooks


def now_of(request: Request) -> dt.datetime:
    """The app's clock (tests inject one), else wall-clock UTC."""
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else dt.datetime.now(dt.timezone.utc)


def session_of(request: Request) -> Session:
    """A new session on the app's engine (503 when the app has no database)."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise HTTPException(status_code=503, detail="no database configured")
    return Session(engine, expire_on_commit=False)


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (the last value of a repeated field).

    Its router caps the body (``body_cap(MAX_FORM_BYTES)``): a larger one is refused with 413 while
    it streams in, before it is held in memory.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise HTTPException(status_code=415, detail="expected application/x-www-form-urlencoded")
    body = await request.body()
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise HTTPException(status_code=400, detail="form body is not UTF-8") from None


def public_url(request: Request) -> str:
    """The URL the provider called (behind a proxy ``request.url`` differs: signatures cover this one)."""
    base = webhook_settings(request).public_base_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{request.url.path}{query}"


async def publish_changes(request: Request, changes: Sequence[ConsentChange]) -> None:
    """Publish committed consent changes; a failure is logged (the database already holds them)."""
    publisher: Any = getattr(request.app.state, "consent_publisher", None)
    if publisher is None or not changes:
        return
    try:
        await publisher.publish(list(changes))
    except Exception:
        log.exception("publishing %d consent change(s) failed; they are stored in the database", len(changes))
