"""A local Twilio Messages API (``/2010-04-01/Accounts/{sid}/Messages.json``) that checks requests.

Checks: HTTP Basic auth with the account sid and auth token, the account in the path, ``To`` in
E.164, ``Body``, ``MessagingServiceSid`` or ``From``, ``ValidityPeriod`` in 1..36000, and the
form encoding. Numbers in ``stopped`` answer error 21610 like a carrier-level STOP does.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.http_server import FakeServer, Reply

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """A Twilio REST error body."""
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


class FakeTwilio(FakeServer):
    """The Twilio Messages API on localhost."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token"):
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.accepted: list[dict[str, str]] = []
        self.stopped: set[str] = set()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if (method, path) != ("POST", expected):
            return Reply(404, twilio_error(404, 20404, "The requested resource was not found"))
        token = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if headers.get("Authorization") != f"Basic {token}":
            return Reply(401, twilio_error(401, 20003, "Authenticate"))
        if not (headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            return Reply(400, twilio_error(400, 21100, "Form encoding required"))
        form = dict(parse_qsl(body.decode()))
        if not _E164.match(form.get("To", "")):
            return Reply(400, twilio_error(400, 21211, "Invalid 'To' Phone Number"))
        if not form.get("Body"):
            return Reply(400, twilio_error(400, 21602, "Message body is required"))
        if not form.get("MessagingServiceSid") and not form.get("From"):
            return Reply(400, twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' is required"))
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            return Reply(400, twilio_error(400, 21623, "ValidityPeriod must be between 1 and 36000"))
        if form["To"] in self.stopped:
            return Reply(400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
        sid = "SM" + uuid.uuid4().hex
        with self.lock:
            self.accepted.append({**form, "sid": sid})
        return Reply(201, {"sid": sid, "account_sid": self.account_sid, "to": form["To"], "body": form["Body"],
                           "status": "accepted" if form.get("MessagingServiceSid") else "queued",
                           "messaging_service_sid": form.get("MessagingServiceSid"), "num_segments": "1",
                           "direction": "outbound-api", "api_version": "2010-04-01",
                           "uri": f"{expected[:-5]}/{sid}.json"})

    def sent_to(self, number: str) -> list[dict[str, str]]:
        """Accepted messages to ``number``."""
        return [m for m in self.accepted if m["To"] == number]
