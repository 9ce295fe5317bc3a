"""Recorded provider payloads (``tests/recorded/``) filled in for one test."""

from __future__ import annotations

import json
from pathlib import Path

RECORDED = Path(__file__).resolve().parent / "recorded"
BOUNDARY = "xYzZY"


def sendgrid_inbound(*, to: str, sender: str, text: str, message_id: str = "<CAN_P_JMvV7ZpAQhOnDie@mail.gmail.com>",
                     in_reply_to: str = "<unknown@mail.example>", html_text: str | None = None,
                     attachment: bytes = b"\xff\xd8\xff\xe0 jpeg bytes") -> tuple[bytes, str]:
    """The Inbound Parse body and its content type, CRLF line ends as on the wire."""
    template = (RECORDED / "sendgrid_inbound_parse.txt").read_text()
    filled = (template.replace("{TO}", to).replace("{FROM}", sender).replace("{TEXT}", text)
              .replace("{HTML_TEXT}", html_text if html_text is not None else text)
              .replace("{MESSAGE_ID}", message_id).replace("{IN_REPLY_TO}", in_reply_to))
    head, _, tail = filled.partition("{ATTACHMENT1}")
    body = head.replace("\n", "\r\n").encode() + attachment + tail.replace("\n", "\r\n").encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def twilio_inbound(*, sender: str, body: str, sid: str | None = None) -> dict[str, str]:
    """The form fields of a Twilio inbound SMS webhook."""
    fields = json.loads((RECORDED / "twilio_inbound_sms.json").read_text())
    fields.update(Body=body, From=sender)
    if sid is not None:
        fields.update(MessageSid=sid, SmsSid=sid, SmsMessageSid=sid)
    return fields
