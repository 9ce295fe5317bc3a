"""Signed, single-purpose tokens for unsubscribe links and the preference page.

A token is ``base64url(json payload).base64url(HMAC-SHA256)``; the payload names its purpose,
so an unsubscribe token cannot open the preference page and the other way round. It holds only
ids (customer, channel, topic, message), never an address. A bad token gets one generic error,
so a caller cannot tell a wrong signature from an unknown customer (no enumeration).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
PURPOSES = frozenset({UNSUBSCRIBE, PREFERENCES})
DEFAULT_LIFETIME = dt.timedelta(days=90)  # links in old messages keep working for a while


class InvalidToken(ValueError):
    """A token that is malformed, forged, expired or meant for another purpose."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def make_token(
    secret: bytes, *, purpose: str, customer_id: str, now: dt.datetime, channel: str | None = None,
    topic: str | None = None, message_id: str | None = None, lifetime: dt.timedelta = DEFAULT_LIFETIME,
) -> str:
    """A signed token for one purpose, valid until ``now + lifetime``."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    payload = {"p": purpose, "c": customer_id, "ch": channel, "t": topic, "m": message_id,
               "exp": int((now + lifetime).timestamp())}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: bytes, token: str, *, purpose: str, now: dt.datetime) -> dict[str, Any]:
    """The payload of a valid token for ``purpose``; ``InvalidToken`` otherwise (one message for all)."""
    try:
        body, signature = token.split(".", 1)
        if not hmac.compare_digest(signature, _sign(secret, body)):
            raise InvalidToken("invalid or expired link")
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError) as exc:
        raise InvalidToken("invalid or expired link") from exc
    if payload.get("p") != purpose or payload.get("exp", 0) < now.timestamp() or not payload.get("c"):
        raise InvalidToken("invalid or expired link")
    return {"purpose": payload["p"], "customer_id": payload["c"], "channel": payload.get("ch"),
            "topic": payload.get("t"), "message_id": payload.get("m")}


def unsubscribe_url(base_url: str, token: str) -> str:
    """The one-click unsubscribe URL for the ``List-Unsubscribe`` header and the footer."""
    return f"{base_url.rstrip('/')}/outreach/unsubscribe?token={quote(token)}"


def preferences_url(base_url: str, token: str) -> str:
    """The preference page URL."""
    return f"{base_url.rstrip('/')}/outreach/preferences?token={quote(token)}"
