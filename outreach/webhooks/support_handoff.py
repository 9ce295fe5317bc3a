"""Handing a customer's free-text reply to a helpdesk, with the context to answer it.

The context packet says what we sent and why (rule, decision reasons, signal facts) and shows the
customer's recent timeline (signals and messages); ``outreach.conversations.context`` adds the
reply's triage (intent, priority) and the thread. It carries the customer id and the reply text,
never the phone number or e-mail address. The POST is signed like the providers sign theirs:
``X-Retain-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with
``RETAIN_SUPPORT_WEBHOOK_SECRET``, so the helpdesk can refuse forgeries and replays
(``verify_signature`` is the receiving side, for the helpdesk's adapter and the tests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
from sqlmodel import Session

from infra.settings import ConversationSettings
from outreach.outbox.records import OutboxRecord
from outreach.outbox.service import list_messages
from signals.service import list_signals

log = logging.getLogger(__name__)


def context_packet(
    *, session: Session, customer_id: str | None, reply_text: str, channel: str, last_message: OutboxRecord | None,
    now: dt.datetime, timeline_limit: int = 10,
) -> dict[str, Any]:
    """The packet support receives for one reply."""
    packet: dict[str, Any] = {
        "received_at": now.isoformat(), "channel": channel, "customer_id": customer_id, "reply": reply_text,
        "in_reply_to": None, "timeline": {"signals": [], "messages": []},
    }
    if last_message is not None:
        decision = last_message.decision or {}
        packet["in_reply_to"] = {
            "message_id": last_message.message_id, "rule_id": last_message.rule_id, "topic": last_message.topic,
            "sent_at": last_message.sent_at.isoformat() if last_message.sent_at else None,
            "text": last_message.body, "why": {key: decision.get(key) for key in
                                              ("reason", "detail", "signal_kind", "risk", "risk_bucket", "drivers")},
            "episode_key": last_message.episode_key,
        }
    if customer_id is not None:
        packet["timeline"]["signals"] = [
            {"kind": s.kind, "detected_at": s.detected_at.isoformat(), "reason": s.reason, "facts": s.attributes}
            for s in list_signals(session=session, customer_id=customer_id, limit=timeline_limit)
        ]
        packet["timeline"]["messages"] = [
            {"message_id": m.message_id, "rule_id": m.rule_id, "channel": m.channel, "state": m.state,
             "created_at": m.created_at.isoformat()}
            for m in list_messages(session=session, customer_id=customer_id, limit=timeline_limit)
        ]
    return packet


SIGNATURE_HEADER = "X-Retain-Signature"


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``X-Retain-Signature`` value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: bytes, body: bytes, header: str, *, now: float, max_age: float = 300.0) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``max_age`` seconds old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > max_age:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


class HttpSupportHandoff:
    """POSTs the packet as signed JSON to the configured helpdesk webhook."""

    def __init__(self, url: str, *, secret: bytes, timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None, clock=time.time):
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.transport = transport
        self.clock = clock

    async def __call__(self, packet: dict[str, Any]) -> None:
        """Deliver the packet; raise on a non-2xx answer."""
        body = json.dumps(packet, default=str).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body, int(self.clock()))}
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            response = await client.post(self.url, content=body, headers=headers)
            response.raise_for_status()


def handoff_from_settings(settings: ConversationSettings) -> HttpSupportHandoff | None:
    """The helpdesk hand-off the settings configure (None without a URL); a URL needs a secret outside development."""
    if not settings.support_webhook_url:
        return None
    secret = settings.support_webhook_secret
    if secret is None:
        if settings.environment != "development":
            raise ValueError("set RETAIN_SUPPORT_WEBHOOK_SECRET: the helpdesk hand-off is signed")
        log.warning("the helpdesk hand-off is signed with a development secret (RETAIN_SUPPORT_WEBHOOK_SECRET unset)")
        return HttpSupportHandoff(settings.support_webhook_url, secret=b"development-support-webhook-secret")
    return HttpSupportHandoff(settings.support_webhook_url, secret=secret.get_secret_value().encode())

