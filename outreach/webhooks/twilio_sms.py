"""Twilio webhooks: inbound SMS replies and message status callbacks, signature verified.

Inbound: opt-out keywords (and plain-language stops) opt the number out of SMS at once, for every
customer holding it, and get exactly one confirmation; START/UNSTOP/YES opt back in; HELP/INFO get
the help text; anything else is a reply for a person: threaded, triaged and stored in its
conversation (``outreach.conversations``), handed to the helpdesk when one is configured, and
acknowledged; a reply that triage reads as an opt-out in plain words is one. Replies are TwiML,
so no extra API call is needed. A repeated webhook (same MessageSid, or same sid and status)
changes nothing and sends no second confirmation.
"""

from __future__ import annotations

import logging
import re
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from twilio.request_validator import RequestValidator

from infra.request_body import body_cap
from infra.settings import ReputationSettings
from outreach.channels.twilio import OPTED_OUT_CODE
from outreach.consent.contact_points import InvalidContactPoint, contact_hash
from outreach.consent.locks import lock_for_opt_out
from outreach.consent.service import (
    ConsentChange,
    customers_with_contact,
    lift_suppression,
    record_consent,
    suppress,
)
from outreach.conversations.inbound import Reply
from outreach.conversations.service import ThreadHints
from outreach.outbox.delivery_events import last_sent_to, record_event, set_provider_status
from outreach.outbox.service import by_provider_id
from outreach.reputation import check_after_reaction
from outreach.webhooks.replies import take_reply
from outreach.webhooks.requests import (
    MAX_FORM_BYTES,
    form_of,
    now_of,
    public_url,
    publish_changes,
    session_of,
    webhook_settings,
)
from outreach.webhooks.sms_keywords import ReplyKind, classify_reply

log = logging.getLogger(__name__)

router = APIRouter(prefix="/outreach/twilio", tags=["webhooks"], dependencies=[Depends(body_cap(MAX_FORM_BYTES))])

OPT_OUT_TEXT = "{sender}: you are unsubscribed and will receive no more texts. Reply START to opt back in."
OPT_IN_TEXT = "{sender}: you are subscribed to texts again. Reply STOP to opt out."
HELP_TEXT = "{sender}: customer care. Reply STOP to opt out. Msg&data rates may apply."
ACK_TEXT = "{sender}: thanks, a member of our team will get back to you shortly."

# What Twilio sends (a SID is two letters and 32 hex digits); anything else would not fit the stored event key.
FIELD_SHAPES = {"MessageSid": re.compile(r"[A-Za-z0-9_-]{1,64}"), "MessageStatus": re.compile(r"[a-z_]{1,32}")}


def required_fields(form: dict[str, str], *names: str) -> list[str]:
    """The values of ``names`` in ``form``; 400 naming the first one missing or not shaped as Twilio sends it."""
    values = []
    for name in names:
        value = form.get(name)
        shape = FIELD_SHAPES.get(name)
        if not value or (shape is not None and not shape.fullmatch(value)):
            raise HTTPException(status_code=400, detail=f"{name} is missing or malformed")
        values.append(value)
    return values


def twiml(text: str | None) -> Response:
    """A TwiML answer with one reply message, or none."""
    body = f"<Message>{escape(text)}</Message>" if text else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                    media_type="application/xml")


async def verified_form(request: Request) -> dict[str, str]:
    """The form fields when ``X-Twilio-Signature`` is valid for them; 403 otherwise."""
    settings = webhook_settings(request)
    form = await form_of(request)
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    signature = request.headers.get("X-Twilio-Signature")
    if not token or not signature or not RequestValidator(token).validate(public_url(request), form, signature):
        raise HTTPException(status_code=403, detail="invalid or missing X-Twilio-Signature")
    return form


def apply_keyword(*, session, reputation: ReputationSettings, kind: ReplyKind, hashed: str, customers: list[str],
                  rule_id: str | None, evidence: dict, now) -> list[ConsentChange]:
    """Opt the number out (or back in) for every customer holding it; the consent changes made."""
    status = "opted_out" if kind == ReplyKind.OPT_OUT else "opted_in"
    # Every customer and the number at once, in one order (``outreach.consent.locks``: no deadlock).
    lock_for_opt_out(session, customer_ids=customers, contact_hashes=[hashed])
    changes = [record_consent(session=session, customer_id=customer_id, channel="sms", topic="*", status=status,
                              source="sms_keyword", changed_at=now, evidence=evidence, contact_hash=hashed)
               for customer_id in customers]
    if kind == ReplyKind.OPT_OUT:  # the number itself, whoever it belongs to (or nobody yet)
        suppress(session=session, contact_hash=hashed, channel="sms", reason="sms_stop", source="sms_keyword", now=now)
        check_after_reaction(session=session, reputation=reputation, rule_id=rule_id, now=now)
    else:
        lift_suppression(session=session, contact_hash=hashed, channel="sms")
    return changes


def _reply(hashed: str, text: str, sid: str) -> Reply:
    return Reply(hints=ThreadHints(channel="sms", contact_hash=hashed), text=text, dedup_key=f"twilio:inbound:{sid}",
                 details={"message_sid": sid})


@router.post("/inbound")
async def inbound_sms(request: Request) -> Response:
    """An SMS reply from a customer."""
    form = await verified_form(request)
    sid, sender = required_fields(form, "MessageSid", "From")
    text = form.get("Body", "")
    settings = webhook_settings(request)
    now = now_of(request)
    try:
        hashed = contact_hash(settings.contact_hash_key.get_secret_value().encode(), "sms", sender)
    except InvalidContactPoint:
        raise HTTPException(status_code=400, detail="From is not a phone number") from None
    kind = classify_reply(text)
    changes: list[ConsentChange] = []
    with session_of(request) as session:
        customers = customers_with_contact(session=session, contact_hash=hashed, channel="sms")
        last = last_sent_to(session=session, customer_ids=customers, channel="sms")
        rule_id = last.rule_id if last else None
        event_kind = {ReplyKind.OPT_OUT: "sms_opt_out", ReplyKind.OPT_IN: "sms_opt_in"}.get(kind, "sms_reply")
        repeated = not record_event(session=session, event_key=f"twilio:inbound:{sid}", provider="twilio",
                                    kind=event_kind, occurred_at=now, message_id=last.message_id if last else None,
                                    rule_id=rule_id, customer_id=customers[0] if customers else None)
        if kind in (ReplyKind.OPT_OUT, ReplyKind.OPT_IN) and not repeated:
            changes = apply_keyword(session=session, reputation=settings.reputation, kind=kind, hashed=hashed,
                                    customers=customers, rule_id=rule_id,
                                    evidence={"message_sid": sid, "reply_kind": kind.value}, now=now)
        session.commit()
    if repeated:
        if kind == ReplyKind.OTHER:
            # Stored once by its key: a repeat after a crash between the two commits still files the reply.
            await take_reply(request, _reply(hashed, text, sid))
        return twiml(None)  # a repeated webhook: it was answered the first time
    if kind == ReplyKind.OTHER:
        received = await take_reply(request, _reply(hashed, text, sid))
        if received.opt_out:  # "please don't text me anymore": an opt-out, whatever the words
            kind = ReplyKind.OPT_OUT
            with session_of(request) as session:
                record_event(session=session, event_key=f"twilio:inbound:{sid}:opt_out", provider="twilio",
                             kind="sms_opt_out", occurred_at=now, message_id=last.message_id if last else None,
                             rule_id=rule_id, customer_id=customers[0] if customers else None)
                changes = apply_keyword(session=session, reputation=settings.reputation, kind=kind, hashed=hashed,
                                        customers=customers, rule_id=rule_id,
                                        evidence={"message_sid": sid, "reply_kind": "triage_opt_out"}, now=now)
                session.commit()
    await publish_changes(request, changes)
    template = {ReplyKind.OPT_OUT: OPT_OUT_TEXT, ReplyKind.OPT_IN: OPT_IN_TEXT, ReplyKind.HELP: HELP_TEXT,
                ReplyKind.OTHER: ACK_TEXT}[kind]
    return twiml(template.format(sender=settings.sender_name))


@router.post("/status")
async def status_callback(request: Request) -> Response:
    """A message status change (queued, sent, delivered, undelivered, failed)."""
    form = await verified_form(request)
    sid, status = required_fields(form, "MessageSid", "MessageStatus")
    now = now_of(request)
    changes = []
    with session_of(request) as session:
        message = by_provider_id(session=session, provider_message_id=sid)
        carrier_opt_out = message is not None and form.get("ErrorCode") == str(OPTED_OUT_CODE)
        if carrier_opt_out:  # its locks before the row's status update below (``outreach.consent.locks``)
            lock_for_opt_out(session, customer_ids=[message.customer_id], contact_hashes=[message.recipient_hash])
        if not record_event(session=session, event_key=f"twilio:status:{sid}:{status}", provider="twilio",
                            kind=status, occurred_at=now, message_id=message.message_id if message else None,
                            rule_id=message.rule_id if message else None,
                            customer_id=message.customer_id if message else None):
            return Response(status_code=204)
        if message is not None:
            set_provider_status(session=session, message_id=message.message_id, status=status, now=now)
            if carrier_opt_out:
                changes.append(record_consent(session=session, customer_id=message.customer_id, channel="sms",
                                              topic="*", status="opted_out", source=f"twilio:{OPTED_OUT_CODE}",
                                              changed_at=now, evidence={"message_sid": sid},
                                              contact_hash=message.recipient_hash))
                if message.recipient_hash:
                    suppress(session=session, contact_hash=message.recipient_hash, channel="sms",
                             reason="carrier_opt_out", source=f"twilio:{OPTED_OUT_CODE}", now=now)
        session.commit()
    await publish_changes(request, changes)
    return Response(status_code=204)
