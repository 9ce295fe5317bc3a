"""A local SendGrid v3 ``/v3/mail/send`` that checks requests the way the real API does.

Checks: ``Authorization: Bearer <key>``; a JSON body with personalizations (1..1000, each with
1+ ``to`` addresses), ``from.email``, a subject, content items with type and value, at most 10
categories of at most 255 characters, string-valued ``custom_args``, an integer ``asm.group_id``.
Also asserts retain's own promises: never ``bypass_list_management`` and no address in categories
or custom_args. Accepted mail is answered 202 with ``X-Message-Id`` and kept in ``accepted``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.fakes.http_server import FakeServer, Reply


def _error(status: int, message: str, field: str | None = None) -> Reply:
    return Reply(status, {"errors": [{"message": message, "field": field, "help": None}]})


# Headers the v3 API refuses in ``headers`` (it has fields for some: ``reply_to``, ``subject``, ...).
RESERVED_HEADERS = frozenset({"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                              "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"})


def validate_mail(payload: Any) -> str | None:
    """The first problem the real API (or retain's contract) would report, or None."""
    if not isinstance(payload, dict):
        return "body must be a JSON object"
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not 1 <= len(personalizations) <= 1000:
        return "personalizations: 1 to 1000 items required"
    for item in personalizations:
        to = item.get("to") if isinstance(item, dict) else None
        if not isinstance(to, list) or not to or not all(isinstance(t, dict) and "@" in str(t.get("email")) for t in to):
            return "personalizations.to: at least one valid email required"
    if "@" not in str((payload.get("from") or {}).get("email")):
        return "from.email: required"
    if not isinstance(payload.get("subject"), str) or not payload["subject"]:
        return "subject: required"
    content = payload.get("content")
    if not isinstance(content, list) or not content or not all(
            isinstance(c, dict) and c.get("type") and isinstance(c.get("value"), str) and c["value"] for c in content):
        return "content: type and non-empty value required"
    categories = payload.get("categories", [])
    if len(categories) > 10 or not all(isinstance(c, str) and len(c) <= 255 for c in categories):
        return "categories: at most 10 strings of at most 255 characters"
    custom_args = payload.get("custom_args", {})
    if not all(isinstance(v, str) for v in custom_args.values()):
        return "custom_args: values must be strings"
    headers = payload.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) and "\r" not in v and "\n" not in v
                                                for v in headers.values()):
        return "headers: an object of single-line strings"
    reserved = RESERVED_HEADERS.intersection(name.lower() for name in headers)
    if reserved:
        return f"headers: {sorted(reserved)[0]} is a reserved header"
    if "asm" in payload and not isinstance(payload["asm"].get("group_id"), int):
        return "asm.group_id: integer required"
    if (payload.get("mail_settings") or {}).get("bypass_list_management"):
        return "retain contract: bypass_list_management must never be set"
    if any("@" in str(v) for v in [*categories, *custom_args.values()]):
        return "retain contract: no address in categories or custom_args"
    return None


class FakeSendGrid(FakeServer):
    """The SendGrid mail send API on localhost."""

    def __init__(self, api_key: str = "SG.test-key"):
        super().__init__()
        self.api_key = api_key
        self.accepted: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        if (method, path) != ("POST", "/v3/mail/send"):
            return _error(404, "not found")
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "The provided authorization grant is invalid, expired, or revoked")
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            return _error(400, "Invalid JSON")
        problem = validate_mail(payload)
        if problem:
            return _error(400, problem)
        with self.lock:
            self.accepted.append(payload)
        return Reply(202, None, {"X-Message-Id": uuid.uuid4().hex[:22]})

    def sent_to(self, address: str) -> list[dict[str, Any]]:
        """Accepted messages addressed to ``address``."""
        return [p for p in self.accepted if any(t["email"] == address for pz in p["personalizations"] for t in pz["to"])]
