"""The demo's recipients: messages the sink stored reach simulated customers, who react through webhooks.

For each message the sink channels stored since the last pass, the simulator says how its
customer reacts (``LiveFeed.deliver_message``, at the industry rates cited in ``simulator.hazard``:
per delivered message about 0.2 % e-mail unsubscribes, 0.02 % spam reports, 2 % SMS STOP replies,
and purchases that depend on the signal and the customer). Messages of the rules named in
``unwanted_rules`` (the demo's deliberately injected bad rule) count as unwanted, and draw
objections far above those rates. The reaction comes back the way it would from the real
providers, through the same HTTP endpoints and signed the same way:

- every message is first reported delivered (a signed SendGrid ``delivered`` event, a signed
  Twilio status callback);
- ``replied_stop`` / ``unsubscribed`` / ``complained`` on SMS: a signed Twilio inbound "STOP" (a
  texting customer has no unsubscribe link or spam button: STOP is how they say all three);
- ``unsubscribed`` (or a STOP reply) on e-mail: the one-click unsubscribe POST of the message's
  ``List-Unsubscribe`` link (RFC 8058);
- ``complained`` on e-mail: a signed SendGrid ``spamreport`` event;
- ``purchased``: the simulator itself queues the customer's checkout and ``order.placed`` (they
  reach the service through the feeder like every other event), so nothing is posted here.

Contact details only ever travel in the webhook bodies, as they do from the providers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from outreach.channels.base import OutgoingMessage
from outreach.outbox.records import OutboxRecord
from outreach.wiring import WebhookSigningKeys

log = logging.getLogger(__name__)

TWILIO_INBOUND = "/outreach/twilio/inbound"
TWILIO_STATUS = "/outreach/twilio/status"
SENDGRID_EVENTS = "/outreach/sendgrid/events"
DEMO_ACCOUNT_SID = "AC" + "0" * 32
DEMO_SENDER_NUMBER = "+15005550006"  # Twilio's magic test number: never a real person

# (customer_id, at, signal kind, channel, key=idempotency key, unwanted=...) -> Reaction
React = Callable[..., Any]


@dataclass(frozen=True)
class Delivered:
    """One sink message with the facts a reaction needs (read from its outbox row)."""

    message: OutgoingMessage
    customer_id: str
    signal_kind: str
    provider_message_id: str | None
    rule_id: str = ""
    key: str = ""  # the outbox idempotency key: the same message draws the same reaction in every run


def _reaction_name(reaction: Any) -> str:
    return str(getattr(reaction, "value", reaction))


class SimulatedRecipients:
    """Hands sink messages to simulated customers and posts their reactions to the API."""

    def __init__(self, *, react: React, channels: Mapping[str, Any], engine: Engine, api_url: str,
                 public_base_url: str, keys: WebhookSigningKeys, timeout: float = 30.0,
                 unwanted_rules: frozenset[str] = frozenset()) -> None:
        self.react = react
        self.unwanted_rules = unwanted_rules
        self.channels = dict(channels)
        self.engine = engine
        self.public_base_url = public_base_url.rstrip("/")
        self.keys = keys
        self.http = httpx.AsyncClient(base_url=api_url, timeout=timeout)
        self.reactions: Counter[str] = Counter()  # by reaction
        self.webhooks: Counter[str] = Counter()  # by "<endpoint> <status code>"
        self._seen: dict[str, int] = {name: 0 for name in self.channels}

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    def _new_messages(self) -> list[OutgoingMessage]:
        fresh: list[OutgoingMessage] = []
        for name, channel in self.channels.items():
            delivered = getattr(channel, "delivered", None)
            if delivered is None:  # a real provider: nobody to simulate
                continue
            count = len(delivered)
            fresh += delivered[self._seen[name]:count]
            self._seen[name] = count
        return fresh

    def _facts(self, messages: list[OutgoingMessage]) -> list[Delivered]:
        out = []
        with Session(self.engine) as session:
            for message in messages:
                row = session.get(OutboxRecord, message.message_id)
                if row is None:
                    continue
                out.append(Delivered(message, row.customer_id, str((row.decision or {}).get("signal_kind", "")),
                                     row.provider_message_id, row.rule_id, row.idempotency_key))
        return out

    async def deliver_new(self, now: dt.datetime) -> int:
        """Deliver every message stored since the last call and post the reactions; how many were delivered."""
        messages = self._new_messages()
        if not messages:
            return 0
        for item in await asyncio.to_thread(self._facts, messages):
            try:
                reaction = _reaction_name(self.react(item.customer_id, now, item.signal_kind, item.message.channel,
                                                     key=item.key, unwanted=item.rule_id in self.unwanted_rules))
            except KeyError:  # not one of the simulated customers
                reaction = "unknown_recipient"
            self.reactions[reaction] += 1
            try:
                await self._report_delivered(item, now)
                await self._act(item, reaction, now)
            except httpx.HTTPError:
                log.exception("posting the reaction to message %s failed", item.message.message_id)
        return len(messages)

    async def _act(self, item: Delivered, reaction: str, now: dt.datetime) -> None:
        if reaction not in ("replied_stop", "unsubscribed", "complained"):
            return
        if item.message.channel == "sms":
            await self.sms_reply(item.message.to, "STOP")
        elif reaction == "complained":
            await self.sendgrid_events([self._sendgrid_event(item, "spamreport", now)], now)
        else:
            await self.one_click_unsubscribe(item.message.unsubscribe_url)

    async def _report_delivered(self, item: Delivered, now: dt.datetime) -> None:
        if item.message.channel == "sms":
            if item.provider_message_id:
                await self._twilio(TWILIO_STATUS, {"MessageSid": item.provider_message_id, "MessageStatus": "delivered",
                                                   "AccountSid": DEMO_ACCOUNT_SID, "To": item.message.to})
        else:
            await self.sendgrid_events([self._sendgrid_event(item, "delivered", now)], now)

    @staticmethod
    def _sendgrid_event(item: Delivered, kind: str, now: dt.datetime) -> dict[str, Any]:
        # custom_args come back as top-level keys: message_id is how retain finds its message.
        return {"email": item.message.to, "event": kind, "sg_event_id": uuid.uuid4().hex,
                "sg_message_id": item.provider_message_id, "timestamp": int(now.timestamp()),
                "message_id": item.message.message_id}

    async def _twilio(self, path: str, form: dict[str, str]) -> httpx.Response:
        signature = self.keys.sign_twilio(f"{self.public_base_url}{path}", form)
        response = await self.http.post(path, content=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        self.webhooks[f"{path} {response.status_code}"] += 1
        return response

    async def sms_reply(self, from_number: str, text: str) -> httpx.Response:
        """A signed Twilio inbound SMS from ``from_number`` (as the customer's carrier relays it)."""
        return await self._twilio(TWILIO_INBOUND, {
            "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": DEMO_ACCOUNT_SID, "From": from_number,
            "To": DEMO_SENDER_NUMBER, "Body": text})

    async def sendgrid_events(self, events: list[dict[str, Any]], now: dt.datetime) -> httpx.Response:
        """A signed SendGrid event webhook batch."""
        payload, timestamp = json.dumps(events), str(int(now.timestamp()))
        response = await self.http.post(SENDGRID_EVENTS, content=payload, headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": self.keys.sign_sendgrid(payload, timestamp),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})
        self.webhooks[f"{SENDGRID_EVENTS} {response.status_code}"] += 1
        return response

    async def one_click_unsubscribe(self, url: str | None) -> httpx.Response | None:
        """The RFC 8058 one-click POST a mail client sends for ``List-Unsubscribe-Post``."""
        if not url:
            return None
        parts = urlsplit(url)
        path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        response = await self.http.post(path, content="List-Unsubscribe=One-Click",
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.webhooks[f"{parts.path} {response.status_code}"] += 1
        return response
