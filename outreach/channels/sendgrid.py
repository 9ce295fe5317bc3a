"""E-mail through the SendGrid v3 mail send API with the official ``sendgrid`` client.

Categories carry the rule id and topic, ``custom_args`` carry our message id (never personal data
in either, because both come back in every event webhook and show in SendGrid's UI). Marketing
mail joins the configured unsubscribe group (``asm``); every message carries RFC 8058 one-click
``List-Unsubscribe`` headers; ``bypass_list_management`` is never set, so SendGrid's own
suppressions always apply on top of ours. The client has no timeout by default: we set one.
"""

from __future__ import annotations

import logging
import socket
import urllib.error
from typing import Any

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from outreach.channels.base import (
    LookupUnsupported,
    OutgoingMessage,
    SendError,
    SendResult,
    retry_after_seconds,
    retryable_status,
)
from outreach.conversations.thread_links import OutboundThreading
from outreach.provider_timing import timed_provider_call

# python_http_client logs whole request bodies (recipient addresses) at DEBUG.
logging.getLogger("python_http_client.client").setLevel(logging.WARNING)


def mail_payload(
    message: OutgoingMessage, *, from_email: str, from_name: str | None = None, asm_group_id: int | None = None,
    threading: OutboundThreading | None = None,
) -> dict[str, Any]:
    """The v3 ``/mail/send`` body for one message (pure); ``threading`` adds Message-ID and Reply-To."""
    headers = dict(message.headers)
    reply_to = None
    if threading is not None:
        headers.update(threading.headers(message.message_id))
        reply_to = threading.reply_to(message.message_id)
    if message.unsubscribe_url:
        headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    sender: dict[str, str] = {"email": from_email}
    if from_name:
        sender["name"] = from_name
    payload: dict[str, Any] = {
        "personalizations": [{"to": [{"email": message.to}]}],
        "from": sender,
        "subject": message.subject or "",
        # text/plain must come first (a SendGrid rule); the HTML alternative follows when drafted.
        "content": [{"type": "text/plain", "value": message.body}]
        + ([{"type": "text/html", "value": message.html}] if message.html else []),
        "categories": [message.rule_id[:255], message.topic[:255]],
        # custom_args values must be strings; ids only, they come back in every webhook event.
        "custom_args": {"message_id": message.message_id, "rule_id": message.rule_id},
    }
    if headers:
        payload["headers"] = headers
    if reply_to:  # SendGrid refuses a Reply-To header: it has its own field
        payload["reply_to"] = {"email": reply_to}
    if asm_group_id is not None and message.topic.split(":", 1)[0] == "marketing":
        payload["asm"] = {"group_id": asm_group_id}
    return payload


class SendGridChannel:
    """The ``email`` channel on SendGrid."""

    name = "email"
    provider = "sendgrid"

    def __init__(
        self, api_key: str, *, from_email: str, from_name: str | None = None, asm_group_id: int | None = None,
        host: str = "https://api.sendgrid.com", timeout: float = 10.0, threading: OutboundThreading | None = None,
    ):
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        # python_http_client copies the timeout into every sub-client it builds per URL segment.
        self.client.client.timeout = timeout
        self.from_email = from_email
        self.from_name = from_name
        self.asm_group_id = asm_group_id
        self.threading = threading

    def send(self, message: OutgoingMessage) -> SendResult:
        """POST /v3/mail/send; 202 means accepted, the id is in ``X-Message-Id``."""
        payload = mail_payload(message, from_email=self.from_email, from_name=self.from_name,
                               asm_group_id=self.asm_group_id, threading=self.threading)
        try:
            with timed_provider_call(self.provider):
                response = self.client.send(payload)
        except http_errors.HTTPError as exc:
            status = exc.status_code
            headers = exc.headers or {}
            raise SendError(
                f"sendgrid answered {status}", retryable=retryable_status(status), status=status,
                retry_after=retry_after_seconds(headers.get("Retry-After")), code=str(status),
            ) from None
        except (socket.timeout, TimeoutError) as exc:
            raise SendError("sendgrid timed out", retryable=False, code="timeout", uncertain=True) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                raise SendError("sendgrid timed out", retryable=False, code="timeout", uncertain=True) from None
            raise SendError("sendgrid unreachable", retryable=True, code="unreachable") from None
        provider_id = (response.headers or {}).get("X-Message-Id") or message.message_id
        return SendResult(provider=self.provider, provider_message_id=str(provider_id))

    def lookup(self, message_id: str) -> SendResult | None:
        """SendGrid's mail send API has no search by our id (the activity API is a paid add-on)."""
        raise LookupUnsupported("sendgrid cannot look up a message by our message id")
