"""SendGrid Inbound Parse, from the fields it posts to one reply in retain's terms (pure).

SendGrid posts ``multipart/form-data``: ``from``, ``to``, ``cc``, ``subject``, ``text``, ``html``,
``headers`` (the raw header block), ``envelope`` (JSON: the SMTP ``to`` list and ``from``),
``attachments`` (a count) with ``attachment-info`` and one file per attachment; or, with "POST the
raw, full MIME message", one ``email`` field holding it all. Attachments are never kept: each is
noted (name, type, size) and dropped. Only the new part of the reply is kept: the quoted history
below "On ... wrote:" (and its German, French and Spanish forms), an original-message block or
``>`` lines is cut, so triage reads what the customer wrote now. Auto-replies (out of office,
``Auto-Submitted``) are recognised, so nobody answers a robot.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from email.parser import HeaderParser
from email.utils import parseaddr
from typing import Any, Mapping

from outreach.conversations.thread_links import addresses

MAX_TEXT_CHARS = 20_000  # a reply longer than this is kept truncated (and says so)

_QUOTE_STARTS = [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in (
    r"^\s*On .{0,200}?wrote:\s*$",
    r"^\s*Am .{0,200}?schrieb .{0,200}?:\s*$",
    r"^\s*Le .{0,200}?a écrit\s*:\s*$",
    r"^\s*El .{0,200}?escribió:\s*$",
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original)\s*-{2,}",
    r"^\s*(From|Von|De): .+\n\s*(Sent|Gesendet|Envoyé|Enviado|Date|Datum): ",
    r"^\s*_{10,}\s*$",  # Outlook's rule above the quoted message
)]
_AUTO_SUBJECT = re.compile(r"(?i)^\s*(auto(matic)?[ -]?reply|out of (the )?office|abwesenheit|absence|"
                           r"fuera de la oficina|automatische antwort|réponse automatique)")


class InvalidInboundEmail(ValueError):
    """A post that is not an Inbound Parse message (``problems`` names what is missing)."""


@dataclass(frozen=True)
class InboundEmail:
    """One e-mail reply: who sent it to which addresses, what it says, and its thread headers."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str  # the new part of the reply
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    auto_reply: bool = False
    truncated: bool = False
    attachments: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def dedup_key(self) -> str:
        """The key a repeated post of this reply shares: its Message-ID, else a hash of what it says."""
        if self.message_id:
            return f"sendgrid:inbound:{self.message_id.strip('<> ')[:150]}"
        digest = hashlib.sha256(f"{self.sender}\x1f{self.subject}\x1f{self.text}".encode()).hexdigest()[:40]
        return f"sendgrid:inbound:sha256:{digest}"

    def __repr__(self) -> str:  # no address in logs
        return f"InboundEmail(subject={self.subject[:40]!r}, attachments={len(self.attachments)})"


def new_part(text: str) -> str:
    """The reply above its quoted history (the whole text when nothing looks quoted)."""
    cut = len(text)
    for pattern in _QUOTE_STARTS:
        match = pattern.search(text)
        if match is not None:
            cut = min(cut, match.start())
    kept = "\n".join(line for line in text[:cut].splitlines() if not line.lstrip().startswith(">"))
    return kept.strip() or text.strip()


def text_of_html(markup: str) -> str:
    """Readable text of an HTML body (tags dropped, block ends as line breaks)."""
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h\d|blockquote)>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _json_object(fields: Mapping[str, str], name: str) -> dict[str, Any]:
    # A field SendGrid fills with a JSON object; anything else (a number, a list, garbage) counts as absent.
    try:
        value = json.loads(fields.get(name) or "null")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _from_raw(raw: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Header fields, the plain text and the attachment notes of a raw MIME message."""
    message = email.message_from_string(raw, policy=email.policy.default)
    fields = {name: str(message.get(name, "")) for name in ("From", "To", "Cc", "Subject")}
    dropped: list[dict[str, Any]] = []
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        text = body.get_content() if body.get_content_type() == "text/plain" else text_of_html(body.get_content())
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        dropped.append({"name": part.get_filename() or "", "type": part.get_content_type(), "size": len(payload)})
    header_block = "".join(f"{k}: {v}\n" for k, v in message.items())
    return {"from": fields["From"], "to": fields["To"], "cc": fields["Cc"], "subject": fields["Subject"],
            "text": text, "headers": header_block}, dropped


def parse_inbound(fields: Mapping[str, str], uploads: list[dict[str, Any]] | None = None) -> InboundEmail:
    """The reply in an Inbound Parse post: its text ``fields`` and the notes of the files it carried."""
    dropped = list(uploads or [])
    if fields.get("email"):  # the raw MIME mode
        raw_fields, in_message = _from_raw(fields["email"])
        fields = {**fields, **raw_fields}
        dropped += in_message
    headers = HeaderParser().parsestr(fields.get("headers") or "", headersonly=True)
    envelope = _json_object(fields, "envelope")
    sender = parseaddr(fields.get("from") or "")[1] or str(envelope.get("from") or "")
    if "@" not in sender:
        raise InvalidInboundEmail("from: no sender address")
    to = envelope.get("to") if isinstance(envelope.get("to"), list) else []
    recipients = tuple(dict.fromkeys([*[str(a) for a in to], *addresses(fields.get("to"), fields.get("cc"))]))
    body = fields.get("text") or text_of_html(fields.get("html") or "")
    text = new_part(body.replace("\r\n", "\n"))
    subject = (fields.get("subject") or "").strip()
    auto = (str(headers.get("Auto-Submitted", "no")).lower() not in ("", "no")
            or str(headers.get("Precedence", "")).lower() in ("auto_reply", "bulk", "junk")
            or headers.get("X-Autoreply") is not None or headers.get("X-Autorespond") is not None
            or bool(_AUTO_SUBJECT.match(subject)))
    info = _json_object(fields, "attachment-info")
    if info and not dropped:  # the files themselves were not posted: note what SendGrid says
        dropped = [{"name": str(v.get("filename", "")), "type": str(v.get("type", "")), "size": None}
                   for v in info.values() if isinstance(v, dict)]
    return InboundEmail(
        sender=sender, recipients=recipients, subject=subject[:500], text=text[:MAX_TEXT_CHARS],
        message_id=(headers.get("Message-ID") or None), in_reply_to=(headers.get("In-Reply-To") or None),
        references=(headers.get("References") or None), auto_reply=auto, truncated=len(text) > MAX_TEXT_CHARS,
        attachments=tuple(dropped),
    )
