"""Telling ops that the reputation guard paused a rule: a signed webhook, posted until it is accepted.

A pause is stored first (``rule_pauses`` with ``notified_at`` empty); the ``outreach.pause_notices``
job posts every pause not yet announced and marks it once the receiver answers 2xx, so a notice
survives a restart or an outage of the receiver and arrives at least once (the ``Idempotency-Key``
header lets the receiver drop a repeat). Without ``RETAIN_OPS_WEBHOOK_URL`` the notice is logged.

Receivers verify ``Retain-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``
keyed by ``RETAIN_OPS_WEBHOOK_SECRET`` (``verify`` below), and refuse old timestamps as replays.
The body names the rule and carries the guard's evidence; never a customer or contact detail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import Session

from infra.settings import ReputationSettings
from outreach.outbox.records import RulePauseRecord

SIGNATURE_HEADER = "Retain-Signature"
EVENT = "rule.paused"

Notify = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger(__name__)


def notice(record: RulePauseRecord, *, public_base_url: str) -> dict[str, Any]:
    """The JSON body announcing one pause."""
    return {
        "event": EVENT, "id": notice_id(record), "rule_id": record.rule_id, "reason": record.reason,
        "paused_at": record.paused_at.isoformat(), "sends": record.sends, "evidence": list(record.evidence or []),
        "console_url": f"{public_base_url.rstrip('/')}/console/rules/{record.rule_id}",
    }


def notice_id(record: RulePauseRecord) -> str:
    """Stable per pause (a rule paused again after a resume gets a new one)."""
    return f"pause:{record.rule_id}:{int(record.paused_at.timestamp())}"


def sign(body: bytes, *, secret: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(body: bytes, header: str, *, secret: bytes, now: float, max_age_seconds: float = 300.0) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is not older than ``max_age_seconds``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > max_age_seconds:
        return False
    return hmac.compare_digest(sign(body, secret=secret, timestamp=timestamp), header)


class HttpPauseNotifier:
    """POSTs a notice as signed JSON to the ops webhook; raises on a non-2xx answer."""

    def __init__(self, url: str, secret: bytes, *, timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.transport = transport
        self.clock = clock

    async def __call__(self, payload: dict[str, Any]) -> None:
        """Deliver one notice."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(
            body, secret=self.secret, timestamp=int(self.clock())), "Idempotency-Key": payload["id"]}
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            response = await client.post(self.url, content=body, headers=headers)
            response.raise_for_status()


async def log_only_notifier(payload: dict[str, Any]) -> None:
    """The default without an ops webhook: the pause is announced in the log (and the console banner)."""
    log.warning("rule %s paused by the reputation guard: %s (no ops webhook configured)",
                payload["rule_id"], payload["reason"])


def pause_notifier(settings: ReputationSettings) -> Notify:
    """The notifier the settings ask for: the signed webhook, or the log."""
    if not settings.ops_webhook_url:
        return log_only_notifier
    secret = settings.ops_webhook_secret.get_secret_value() if settings.ops_webhook_secret else ""
    return HttpPauseNotifier(settings.ops_webhook_url, secret.encode())


def unannounced(*, session: Session, public_base_url: str) -> list[dict[str, Any]]:
    """Notices of the pauses ops have not been told about yet, oldest first."""
    records = session.scalars(select(RulePauseRecord).where(RulePauseRecord.notified_at.is_(None))
                              .order_by(RulePauseRecord.paused_at))
    return [notice(record, public_base_url=public_base_url) for record in records]


def mark_announced(*, session: Session, payload: dict[str, Any], now: dt.datetime) -> bool:
    """Record that ops were told about this pause (not a later pause of the same rule); True when marked."""
    record = session.get(RulePauseRecord, payload["rule_id"])
    if record is None or notice_id(record) != payload["id"]:
        return False  # resumed (or paused anew) meanwhile: the newer pause gets its own notice
    record.notified_at = now
    session.add(record)
    return True
