"""Handing a customer's free-text reply to support, with the context to answer it.

The context packet says what we sent and why (rule, decision reasons, signal facts) and shows the
customer's recent timeline (signals and messages). It carries the customer id and the reply text,
never the phone number or e-mail address.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import httpx
from sqlmodel import Session

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


class HttpSupportHandoff:
    """POSTs the packet as JSON to the configured support webhook."""

    def __init__(self, url: str, *, timeout: float = 5.0, transport: httpx.AsyncBaseTransport | None = None):
        self.url = url
        self.timeout = timeout
        self.transport = transport

    async def __call__(self, packet: dict[str, Any]) -> None:
        """Deliver the packet; raise on a non-2xx answer."""
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            response = await client.post(self.url, json=packet)
            response.raise_for_status()


async def log_only_handoff(packet: dict[str, Any]) -> None:
    """The default without a support webhook: log that a reply needs a person (ids only)."""
    log.warning("SMS reply from customer %s needs a person (no support webhook configured)", packet.get("customer_id"))
