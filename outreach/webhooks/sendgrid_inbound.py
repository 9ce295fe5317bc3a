"""SendGrid Inbound Parse: customers' e-mail replies, posted as ``multipart/form-data``.

Inbound Parse does not sign its posts, so the URL configured in SendGrid must carry a secret
(``RETAIN_INBOUND_EMAIL_SECRET``): as the last path segment, ``/outreach/sendgrid/inbound/<secret>``,
or as HTTP basic auth (``https://sendgrid:<secret>@host/outreach/sendgrid/inbound``). Without a
configured secret the endpoint answers 404 (it does not exist); a wrong or missing secret gets 403
and nothing is read. The whole post is capped at ``inbound_email_max_bytes`` (413 beyond, while it
streams in), each text field at ``MAX_FIELD_BYTES``; attachments are streamed to temporary files
by the form parser, noted (name, type, size) and dropped, never stored. Auto-replies are
acknowledged and not filed. Every refusal is a 4xx naming what is wrong; a repeated post of the
same message (SendGrid retries for three days) is filed once.
"""

from __future__ import annotations

import base64
import hmac
import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from infra.request_body import CAP_KEY
from outreach.consent.contact_points import InvalidContactPoint, contact_hash
from outreach.conversations.inbound import Reply
from outreach.conversations.inbound_email import InvalidInboundEmail, parse_inbound
from outreach.conversations.service import ThreadHints
from outreach.conversations.thread_links import message_id_of_address, referenced_message_ids, reply_thread
from outreach.webhooks.replies import take_reply
from outreach.webhooks.requests import conversation_settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/outreach/sendgrid", tags=["webhooks"])

MAX_FIELD_BYTES = 2_000_000  # one text field (text, html, headers, a raw message's headers): plenty for a reply
MAX_FILES = 50
MAX_FIELDS = 100


def _authorised(request: Request, path_secret: str | None) -> None:
    settings = conversation_settings(request)
    secret = settings.inbound_email_secret
    if secret is None:
        raise HTTPException(status_code=404, detail="inbound e-mail is not configured (RETAIN_INBOUND_EMAIL_SECRET)")
    expected = secret.get_secret_value()
    if path_secret is not None and hmac.compare_digest(path_secret.encode(), expected.encode()):
        return
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        if (hmac.compare_digest(user.encode(), settings.inbound_email_username.encode())
                and hmac.compare_digest(password.encode(), expected.encode())):
            return
    raise HTTPException(status_code=403, detail="wrong or missing inbound e-mail secret",
                        headers={"WWW-Authenticate": 'Basic realm="inbound e-mail"'})


async def _fields(request: Request) -> tuple[dict[str, str], list[dict]]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(status_code=415, detail="expected multipart/form-data (SendGrid Inbound Parse)")
    request.scope[CAP_KEY] = conversation_settings(request).inbound_email_max_bytes
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    except MultiPartException as exc:
        raise HTTPException(status_code=400, detail=f"unreadable multipart body: {exc.message}") from None
    fields: dict[str, str] = {}
    dropped: list[dict] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):  # an attachment: noted, then dropped with the form
                dropped.append({"field": name, "name": value.filename or "", "type": value.content_type or "",
                                "size": value.size})
            else:
                fields[name] = value
    finally:
        await form.close()
    return fields, dropped


async def _inbound(request: Request, path_secret: str | None) -> JSONResponse:
    _authorised(request, path_secret)
    fields, dropped = await _fields(request)
    try:
        parsed = parse_inbound(fields, dropped)
    except InvalidInboundEmail as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if parsed.auto_reply:
        log.info("inbound e-mail: an auto-reply, not filed")
        return JSONResponse({"status": "ignored", "reason": "auto-reply"})
    settings = conversation_settings(request)
    try:
        hashed = contact_hash(settings.contact_hash_key.get_secret_value().encode(), "email", parsed.sender)
    except InvalidContactPoint:
        raise HTTPException(status_code=400, detail="from is not an e-mail address") from None
    secret = settings.threading.unsubscribe_secret.get_secret_value().encode()
    by_address = next((m for m in (message_id_of_address(secret, a) for a in parsed.recipients) if m), None)
    hints = ThreadHints(channel="email", contact_hash=hashed, reply_address_message_id=by_address,
                        referenced_message_ids=tuple(referenced_message_ids(parsed.in_reply_to, parsed.references)))
    details = {"attachments_dropped": list(parsed.attachments), "truncated": parsed.truncated,
               "email_thread": reply_thread(parsed.message_id, parsed.in_reply_to, parsed.references)}
    received = await take_reply(request, Reply(hints=hints, text=parsed.text, subject=parsed.subject,
                                               dedup_key=parsed.dedup_key(), details=details))
    if received.duplicate:
        return JSONResponse({"status": "duplicate"})
    return JSONResponse({"status": "received", "conversation_id": received.conversation_id,
                         "intent": received.triage.intent.value if received.triage else None,
                         "attachments_dropped": len(parsed.attachments)})


@router.post("/inbound/{secret}")
async def inbound_email_with_path_secret(secret: str, request: Request) -> JSONResponse:
    """An e-mail reply; the secret is the last path segment."""
    return await _inbound(request, secret)


@router.post("/inbound")
async def inbound_email(request: Request) -> JSONResponse:
    """An e-mail reply; the secret comes as HTTP basic auth."""
    return await _inbound(request, None)
