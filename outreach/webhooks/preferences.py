"""One-click unsubscribe (RFC 8058) and the preference page, both behind signed tokens.

``POST /outreach/unsubscribe?token=..`` is what mail clients call for ``List-Unsubscribe-Post``;
``GET`` of the same URL only shows a confirm button, because link scanners fetch every URL in a
message and must not unsubscribe anyone. A bad token gets one generic 400 whatever is wrong with
it, so nobody can probe for customers. The preference page shows each channel and topic and
changes them with a POST carrying its own (preferences-purpose) token.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse

from infra.request_body import body_cap
from outreach.consent.service import consent_status, record_consent
from outreach.outbox.delivery_events import record_event
from outreach.outbox.service import get_message
from outreach.reputation import check_after_reaction
from outreach.tokens import PREFERENCES, UNSUBSCRIBE, InvalidToken, read_token
from outreach.webhooks.requests import MAX_FORM_BYTES, form_of, now_of, publish_changes, session_of, webhook_settings
from triggers.policy.consent import needs_opt_in

router = APIRouter(prefix="/outreach", tags=["preferences"], dependencies=[Depends(body_cap(MAX_FORM_BYTES))])

CHOICES: tuple[tuple[str, str], ...] = (
    ("email", "service"), ("email", "marketing"), ("sms", "service"), ("sms", "marketing"),
)
LABELS = {"service": "Service messages (orders, deliveries)", "marketing": "Offers and news"}


def _token(request: Request, token: str | None, purpose: str) -> dict:
    settings = webhook_settings(request)
    try:
        return read_token(settings.unsubscribe_secret.get_secret_value().encode(), token or "", purpose=purpose,
                          now=now_of(request))
    except InvalidToken:
        raise HTTPException(status_code=400, detail="invalid or expired link") from None


@router.get("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(request: Request, token: str | None = None) -> HTMLResponse:
    """A confirm button (GET changes nothing: link scanners prefetch URLs)."""
    _token(request, token, UNSUBSCRIBE)
    return HTMLResponse(
        f"<html><body><form method='post' action='/outreach/unsubscribe?token={escape(token or '')}'>"
        "<input type='hidden' name='List-Unsubscribe' value='One-Click'>"
        "<button type='submit'>Unsubscribe</button></form></body></html>"
    )


@router.post("/unsubscribe")
async def unsubscribe(request: Request, token: str | None = None) -> JSONResponse:
    """Opt out of the channel and topic the token names; repeating it changes nothing twice."""
    claims = _token(request, token, UNSUBSCRIBE)
    now = now_of(request)
    channel, topic = claims["channel"] or "email", claims["topic"] or "marketing"
    changes = []
    with session_of(request) as session:
        key = f"unsubscribe:{claims['message_id'] or claims['customer_id']}:{channel}:{topic}"
        message = get_message(session=session, message_id=claims["message_id"]) if claims["message_id"] else None
        rule_id = message.rule_id if message else None
        if record_event(session=session, event_key=key, provider="retain", kind="unsubscribe", occurred_at=now,
                        message_id=message.message_id if message else None, rule_id=rule_id,
                        customer_id=claims["customer_id"]):
            changes.append(record_consent(session=session, customer_id=claims["customer_id"], channel=channel,
                                          topic=topic, status="opted_out", source="one_click_unsubscribe",
                                          changed_at=now, evidence={"message_id": claims["message_id"]}))
            check_after_reaction(session=session, reputation=webhook_settings(request).reputation, rule_id=rule_id,
                                 now=now)
        session.commit()
    await publish_changes(request, changes)
    return JSONResponse({"status": "unsubscribed", "channel": channel, "topic": topic})


def subscribed(channel: str, topic: str, status: str) -> bool:
    """Whether messages of this kind go out now: an opt-in, or silence where no opt-in is needed."""
    return status == "opted_in" or (status == "unknown" and not needs_opt_in(channel, topic))


def _page(token: str, statuses: dict[tuple[str, str], str], saved: bool) -> str:
    rows = "".join(
        f"<tr><td>{channel}</td><td>{LABELS[topic]}</td><td><input type='checkbox' name='{channel}:{topic}'"
        f"{' checked' if subscribed(channel, topic, statuses[(channel, topic)]) else ''}></td>"
        f"<td>{statuses[(channel, topic)]}</td></tr>"
        for channel, topic in CHOICES
    )
    note = "<p>Your preferences were saved.</p>" if saved else ""
    return (f"<html><body><h1>Your message preferences</h1>{note}<form method='post'>"
            f"<input type='hidden' name='token' value='{escape(token)}'><table>{rows}</table>"
            "<button type='submit'>Save</button></form></body></html>")


def _statuses(session, customer_id: str) -> dict[tuple[str, str], str]:
    return {(channel, topic): consent_status(session=session, customer_id=customer_id, channel=channel,
                                              topic=topic).value for channel, topic in CHOICES}


@router.get("/preferences", response_class=HTMLResponse)
async def preferences_page(request: Request, token: str | None = None) -> HTMLResponse:
    """The customer's channels and topics with their current status."""
    claims = _token(request, token, PREFERENCES)
    with session_of(request) as session:
        statuses = _statuses(session, claims["customer_id"])
    return HTMLResponse(_page(token or "", statuses, saved=False))


@router.post("/preferences", response_class=HTMLResponse)
async def save_preferences(request: Request) -> HTMLResponse:
    """Set every listed choice: checked = opted in, unchecked = opted out (only real changes are recorded)."""
    form = await form_of(request)
    token = form.get("token")
    claims = _token(request, token, PREFERENCES)
    now = now_of(request)
    changes = []
    with session_of(request) as session:
        before = _statuses(session, claims["customer_id"])
        for channel, topic in CHOICES:
            wanted = "opted_in" if f"{channel}:{topic}" in form else "opted_out"
            if (wanted == "opted_in") != subscribed(channel, topic, before[(channel, topic)]):
                changes.append(record_consent(session=session, customer_id=claims["customer_id"], channel=channel,
                                              topic=topic, status=wanted, source="preference_page", changed_at=now))
        session.commit()
        statuses = _statuses(session, claims["customer_id"])
    await publish_changes(request, changes)
    return HTMLResponse(_page(token or "", statuses, saved=True))
