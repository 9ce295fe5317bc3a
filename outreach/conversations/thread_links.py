"""What ties a reply to the message it answers: reply addresses, Message-IDs, reply headers (pure).

Outbound e-mail carries ``Message-ID: <retain.<message id>@<domain>>`` and, when an inbound
domain is configured, ``Reply-To: reply+<message id>.<tag>@<inbound domain>``: the tag is an HMAC
of the message id, so a reply address cannot be made up for someone else's message. A reply is
threaded by the first of: a valid reply address among its recipients, one of our Message-IDs in
``In-Reply-To``/``References`` (only when the sender is the address that message went to: the
headers are the sender's to write), or the last message sent to the sender's address.

>>> secret = b"k"
>>> address = reply_address(secret, "0123456789abcdef0123456789abcdef", "reply.example.com")
>>> message_id_of_address(secret, address.upper())
'0123456789abcdef0123456789abcdef'
>>> message_id_of_address(b"other", address) is None
True
>>> referenced_message_ids("<x@y> <retain.0123456789abcdef0123456789abcdef@example.com>")
['0123456789abcdef0123456789abcdef']

An answer to an e-mail reply threads under it in the customer's mail client (RFC 5322 3.6.4):
``In-Reply-To`` names the reply, ``References`` the reply's own references and then the reply.
Only well-formed ``<id>`` tokens are kept from the reply's headers, so nothing a sender writes
there (a line break, another header) reaches an outgoing message.

>>> reply_headers(reply_thread("<r2@mail.example>", "<r1@x>", None))
{'In-Reply-To': '<r2@mail.example>', 'References': '<r1@x> <r2@mail.example>'}
"""

from __future__ import annotations

import hashlib
import hmac
import re
from email.utils import getaddresses
from typing import Any

from infra.settings import ThreadingSettings

REPLY_PREFIX = "reply+"
TAG_CHARS = 16  # 64 bits of HMAC: the local part stays under its 64-character limit
_REPLY_LOCAL = re.compile(r"reply\+([0-9a-f]{32})\.([0-9a-f]{%d})" % TAG_CHARS)
_OUR_MESSAGE_ID = re.compile(r"<retain\.([0-9a-f]{32})@[^<>\s]+>")
# Any Message-ID as mail clients write it: visible ASCII but the brackets, within a sane length.
_ANY_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>")
MAX_REFERENCES = 20  # the newest ones; clients thread by the last few


def _tag(secret: bytes, message_id: str) -> str:
    return hmac.new(secret, f"reply\x1f{message_id}".encode(), hashlib.sha256).hexdigest()[:TAG_CHARS]


def reply_address(secret: bytes, message_id: str, domain: str) -> str:
    """The Reply-To address of one outbound message."""
    return f"{REPLY_PREFIX}{message_id}.{_tag(secret, message_id)}@{domain}"


def message_id_of_address(secret: bytes, address: str) -> str | None:
    """The message id a reply address names, when its tag is valid (addresses are case-insensitive)."""
    local = address.strip().lower().rsplit("@", 1)[0]
    match = _REPLY_LOCAL.fullmatch(local)
    if match is None or not hmac.compare_digest(match.group(2), _tag(secret, match.group(1))):
        return None
    return match.group(1)


def message_id_header(message_id: str, domain: str) -> str:
    """The ``Message-ID`` header value of one outbound message."""
    return f"<retain.{message_id}@{domain}>"


def referenced_message_ids(*headers: str | None) -> list[str]:
    """Our message ids in ``In-Reply-To`` / ``References`` values, most recent reference first."""
    found: list[str] = []
    for header in headers:
        for message_id in reversed(_OUR_MESSAGE_ID.findall(header or "")):
            if message_id not in found:
                found.append(message_id)
    return found


def message_ids(value: str | None) -> list[str]:
    """The well-formed Message-IDs in a header value, in order; anything else is dropped."""
    return _ANY_MESSAGE_ID.findall(value or "")


def reply_thread(message_id: str | None, in_reply_to: str | None, references: str | None) -> dict[str, Any]:
    """What an answer to this e-mail reply needs to thread under it: its Message-ID and the ids it references."""
    own = message_ids(message_id)
    referenced = message_ids(references) or message_ids(in_reply_to)
    return {"message_id": own[0] if own else None, "references": referenced[-MAX_REFERENCES:]}


def reply_headers(thread: dict[str, Any]) -> dict[str, str]:
    """``In-Reply-To`` and ``References`` of an answer to the reply ``thread`` describes (empty without its id)."""
    message_id = thread.get("message_id")
    if not message_id:
        return {}
    earlier = [ref for ref in thread.get("references") or () if ref != message_id]
    return {"In-Reply-To": message_id, "References": " ".join([*earlier[-(MAX_REFERENCES - 1):], message_id])}


def addresses(*values: str | None) -> list[str]:
    """The e-mail addresses in header values such as ``To`` and ``Cc`` (display names dropped)."""
    return [address for _, address in getaddresses([v for v in values if v]) if "@" in address]


def domain_of(address: str) -> str:
    """The domain part of an e-mail address."""
    return address.rsplit("@", 1)[-1].strip().lower()


class OutboundThreading:
    """The thread headers every outbound e-mail carries: our Message-ID, and a Reply-To when replies come in."""

    def __init__(self, *, secret: bytes, message_domain: str, reply_domain: str | None = None):
        self.secret = secret
        self.message_domain = message_domain
        self.reply_domain = reply_domain

    def reply_to(self, message_id: str) -> str | None:
        """The message's reply address (None without an inbound domain)."""
        return reply_address(self.secret, message_id, self.reply_domain) if self.reply_domain else None

    def headers(self, message_id: str) -> dict[str, str]:
        """``Message-ID``, so a reply's ``In-Reply-To`` names the message."""
        return {"Message-ID": message_id_header(message_id, self.message_domain)}

    @classmethod
    def from_settings(cls, settings: ThreadingSettings) -> "OutboundThreading":
        """Keyed like the unsubscribe links; Message-IDs on the sender's domain, replies to the inbound domain."""
        return cls(secret=settings.unsubscribe_secret.get_secret_value().encode(),
                   message_domain=domain_of(settings.sendgrid_from_email), reply_domain=settings.inbound_email_domain)
