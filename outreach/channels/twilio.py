"""SMS through the Twilio Messages API with the official ``twilio`` client.

Sends from a messaging service (or a sender number), asks for status callbacks, sets
``validity_period`` so a backlog never goes out late and ``smart_encoding`` so stray Unicode
punctuation does not double the segment count. Error 21610 (the recipient replied STOP to this
sender) is an opt-out, never retried; 20429 and HTTP 429/5xx are retried. ``BaseUrlHttpClient``
sends the client's requests to another base URL (a proxy, or the local fake in tests).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from outreach.channels.base import (
    LookupUnsupported,
    OutgoingMessage,
    SendError,
    SendResult,
    retry_after_seconds,
    retryable_status,
)
from outreach.provider_timing import timed_provider_call

OPTED_OUT_CODE = 21610  # "Attempt to send to unsubscribed recipient"
TOO_MANY_REQUESTS_CODE = 20429
RETRYABLE_CODES = frozenset({TOO_MANY_REQUESTS_CODE})

# The Twilio client logs request parameters (the recipient's number) at INFO.
_quiet_logger = logging.getLogger("retain.twilio_http")
_quiet_logger.setLevel(logging.WARNING)


class BaseUrlHttpClient(TwilioHttpClient):
    """A Twilio HTTP client that sends every request to ``base_url`` and remembers response headers."""

    def __init__(self, base_url: str | None = None, *, timeout: float = 10.0):
        super().__init__(timeout=timeout, logger=_quiet_logger)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.last_headers: dict[str, str] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        """Rewrite scheme and host, keep the path and query."""
        if self.base_url:
            base = urlsplit(self.base_url)
            parts = urlsplit(url)
            url = urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, parts.fragment))
        self.last_headers = {}
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = dict(response.headers or {})
        return response


class TwilioChannel:
    """The ``sms`` channel on Twilio."""

    name = "sms"
    provider = "twilio"

    def __init__(
        self, account_sid: str, auth_token: str, *, messaging_service_sid: str | None = None,
        from_number: str | None = None, validity_period: int = 14400, base_url: str | None = None,
        timeout: float = 10.0,
    ):
        if not messaging_service_sid and not from_number:
            raise ValueError("twilio needs a messaging service sid or a from number")
        self.http_client = BaseUrlHttpClient(base_url, timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number
        self.validity_period = validity_period

    def send(self, message: OutgoingMessage) -> SendResult:
        """Create a Message; an accepted one has a ``SM...`` sid."""
        options: dict[str, Any] = {
            "to": message.to,
            "body": message.body,
            "validity_period": self.validity_period,
            "smart_encoded": True,
        }
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            options["from_"] = self.from_number
        if message.status_callback_url:
            options["status_callback"] = message.status_callback_url
        try:
            with timed_provider_call(self.provider):
                created = self.client.messages.create(**options)
        except TwilioRestException as exc:
            raise _send_error(exc, self.http_client.last_headers) from None
        except requests.Timeout as exc:
            raise SendError("twilio timed out", retryable=False, code="timeout", uncertain=True) from exc
        except requests.ConnectionError as exc:
            raise SendError("twilio unreachable", retryable=True, code="unreachable") from exc
        return SendResult(provider=self.provider, provider_message_id=created.sid, status=created.status or "queued")

    def lookup(self, message_id: str) -> SendResult | None:
        """Twilio Messages carry no client reference, so ours cannot be found."""
        raise LookupUnsupported("twilio cannot look up a message by our message id")


def _send_error(exc: TwilioRestException, headers: dict[str, str]) -> SendError:
    code = exc.code
    status = exc.status
    if code == OPTED_OUT_CODE:
        return SendError("recipient opted out at the carrier (21610)", retryable=False, code=str(code),
                         opted_out=True, status=status)
    retryable = code in RETRYABLE_CODES or retryable_status(status)
    return SendError(f"twilio answered {status} ({code})", retryable=retryable, code=str(code or status),
                     retry_after=retry_after_seconds(headers.get("Retry-After")), status=status)
