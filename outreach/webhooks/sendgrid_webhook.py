"""The SendGrid event webhook: ECDSA-signed batches of delivery and engagement events.

The signature covers timestamp + raw body (``X-Twilio-Email-Event-Webhook-Signature`` and
``-Timestamp``); an unsigned, badly signed or stale request (older than
``webhook_max_age_seconds``: a replay) gets a 4xx and changes nothing. Each event is recorded once
by ``sg_event_id``; bounces and spam reports suppress the address for all e-mail, unsubscribes
change consent, and complaints and opt-outs feed the reputation guard of the message's rule.

A correctly signed batch can still hold a malformed event. The well-formed events of the batch are
applied all the same (an opt-out must not wait on its neighbour, and SendGrid would retry the whole
batch for a day), and the answer is 400 listing each bad event's index and field, with the number
of events ``accepted``; SendGrid's retry of that batch is harmless, as every event is keyed by its
``sg_event_id``.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sendgrid.helpers.eventwebhook import EventWebhook

from infra.request_body import body_cap
from infra.settings import WebhookSettings
from outreach.consent import locks
from outreach.consent.contact_points import InvalidContactPoint, contact_hash
from outreach.consent.service import customers_with_contact, record_consent, suppress
from outreach.outbox.delivery_events import record_event, set_provider_status
from outreach.outbox.service import get_message
from outreach.reputation import check_after_reaction
from outreach.webhooks.requests import now_of, publish_changes, session_of, webhook_settings
from outreach.webhooks.sendgrid_events import EmailEvent, InvalidProviderEvent, translate

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_BODY_BYTES = 5_000_000  # a batch holds at most a few thousand events of ~1 KB

# The body is capped while it streams in: more than MAX_BODY_BYTES gets 413 and is not read further.
router = APIRouter(prefix="/outreach/sendgrid", tags=["webhooks"], dependencies=[Depends(body_cap(MAX_BODY_BYTES))])


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


async def verified_events(request: Request) -> list[dict]:
    """The JSON events when signature and timestamp are valid; 4xx otherwise."""
    settings = webhook_settings(request)
    signature, timestamp = request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER)
    if not settings.sendgrid_webhook_public_key or not signature or not timestamp:
        raise HTTPException(status_code=403, detail=f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    body = await request.body()
    try:
        signed_at = int(timestamp)
        payload = body.decode("utf-8")
        valid = EventWebhook(settings.sendgrid_webhook_public_key).verify_signature(payload, signature, timestamp)
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise HTTPException(status_code=403, detail="invalid event webhook signature")
    age = now_of(request).timestamp() - signed_at
    if abs(age) > settings.webhook_max_age_seconds:
        raise HTTPException(status_code=403, detail="signed timestamp too old or in the future (replay refused)")
    try:
        events = json.loads(payload, parse_constant=_no_constants)
    except ValueError as exc:  # JSONDecodeError, and NaN / Infinity, which JSON does not have
        raise HTTPException(status_code=400, detail=f"body is not JSON: {exc}") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise HTTPException(status_code=400, detail="body must be a JSON array of event objects")
    return events


def _apply(session, settings: WebhookSettings, event: EmailEvent, now) -> list:
    message = get_message(session=session, message_id=event.message_id) if event.message_id else None
    if not record_event(session=session, event_key=event.event_key, provider="sendgrid", kind=event.kind,
                        occurred_at=event.occurred_at, message_id=message.message_id if message else None,
                        rule_id=message.rule_id if message else None,
                        customer_id=message.customer_id if message else None):
        return []  # seen before
    if message is not None:
        set_provider_status(session=session, message_id=message.message_id, status=event.kind, now=now)
    hashed = _contact_of(settings, event, message)
    if event.suppression and hashed:
        suppress(session=session, contact_hash=hashed, channel="email", reason=event.suppression,
                 source=f"sendgrid:{event.kind}", now=now)
    changes = []
    if event.consent_status:
        for customer_id in sorted(_customers_of(session, hashed, message)):
            changes.append(record_consent(
                session=session, customer_id=customer_id, channel="email", topic=event.consent_topic,
                status=event.consent_status, source=f"sendgrid:{event.kind}", changed_at=event.occurred_at,
                evidence={"sg_event_id": event.event_key, "message_id": event.message_id}, contact_hash=hashed,
            ))
    if event.kind in ("spamreport", "unsubscribe", "group_unsubscribe") and message is not None:
        check_after_reaction(session=session, reputation=settings.reputation, rule_id=message.rule_id, now=now)
    return changes


def _contact_of(settings: WebhookSettings, event: EmailEvent, message) -> str | None:
    """The keyed hash of the event's address, else of the address its message went to."""
    if event.email:
        try:
            return contact_hash(settings.contact_hash_key.get_secret_value().encode(), "email", event.email)
        except InvalidContactPoint:
            pass
    return message.recipient_hash if message else None


def _customers_of(session, hashed: str | None, message) -> set[str]:
    """Whose consent an event about this address changes: every customer holding it, and the message's."""
    customers = set(customers_with_contact(session=session, contact_hash=hashed, channel="email")) if hashed else set()
    if message is not None:
        customers.add(message.customer_id)
    return customers


def _lock_opt_outs(session, settings: WebhookSettings, events: list[EmailEvent]) -> None:
    """The locks of every suppression and consent change of a batch, all at once before its first write.

    One event's locks after another's writes could deadlock with a sender (``outreach.consent.locks``).
    """
    if not locks.applies(session):
        return
    customers: set[str] = set()
    hashes: set[str | None] = set()
    for event in events:
        if event.suppression or event.consent_status:
            message = get_message(session=session, message_id=event.message_id) if event.message_id else None
            hashes.add(hashed := _contact_of(settings, event, message))
            if event.consent_status:
                customers |= _customers_of(session, hashed, message)
    locks.lock_for_opt_out(session, customer_ids=customers, contact_hashes=hashes)


def translate_batch(raw_events: list[dict], marketing_group_id: int | None) -> tuple[list[EmailEvent | None], list[str]]:
    """The well-formed events of a batch (None for types retain ignores) and a problem per malformed field."""
    events, problems = [], []
    for index, raw in enumerate(raw_events):
        try:
            events.append(translate(raw, marketing_group_id=marketing_group_id, where=f"events[{index}]"))
        except InvalidProviderEvent as exc:
            problems += exc.problems
    return events, problems


@router.post("/events", responses={400: {"description": (
    "the body is not a JSON array of objects, or some events are malformed: ``detail`` names each "
    "(``events[3].timestamp: ...``); the well-formed events of the batch were applied (``accepted``)")}})
async def sendgrid_events(request: Request) -> Response:
    """A batch of SendGrid events."""
    raw_events = await verified_events(request)
    settings = webhook_settings(request)
    events, problems = translate_batch(raw_events, settings.sendgrid_marketing_asm_group_id)
    now = now_of(request)
    changes = []
    with session_of(request) as session:
        _lock_opt_outs(session, settings, [event for event in events if event is not None])
        for event in events:
            if event is not None:
                changes.extend(_apply(session, settings, event, now))
        session.commit()
    await publish_changes(request, changes)
    if problems:
        log.warning("sendgrid batch: %d of %d events malformed: %s", len(raw_events) - len(events), len(raw_events),
                    "; ".join(problems))
        return JSONResponse({"detail": problems, "accepted": len(events)}, status_code=400)
    return Response(status_code=204)
