"""What the system (never the model) adds to a draft: sender, opt-out line, footer, AI disclosure.

Wording per language (en, de; others fall back to English). The SMS opt-out line always names
the STOP keyword, which carriers and Twilio act on whatever the language.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import MessageFramingSettings
from outreach.drafting.draft import Draft

WORDING: dict[str, dict[str, str]] = {
    "en": {
        "sms_opt_out": "Reply STOP to opt out",
        "ai": "This message was drafted with the help of AI.",
        "ai_short": "(AI-assisted)",
        "unsubscribe": "Unsubscribe",
        "sent_by": "Sent by",
    },
    "de": {
        "sms_opt_out": "Abmelden: STOP antworten",
        "ai": "Diese Nachricht wurde mit Hilfe von KI verfasst.",
        "ai_short": "(KI-gestützt)",
        "unsubscribe": "Abmelden",
        "sent_by": "Gesendet von",
    },
}


def wording(language: str) -> dict[str, str]:
    """The system wording for ``language`` (English when we have none)."""
    return WORDING.get(language, WORDING["en"])


@dataclass(frozen=True)
class SystemParts:
    """Sender identification, postal address and the AI-disclosure switch (from settings)."""

    sender_name: str
    postal_address: str
    ai_disclosure: bool = False

    @classmethod
    def from_settings(cls, settings: MessageFramingSettings) -> "SystemParts":
        """Read ``sender_name``, ``postal_address`` and ``ai_disclosure`` from settings."""
        return cls(settings.sender_name, settings.postal_address, settings.ai_disclosure)


@dataclass(frozen=True)
class FramedMessage:
    """The message as it will be sent: drafted parts wrapped in the system parts."""

    subject: str
    preheader: str
    text: str
    footer: tuple[str, ...] = ()


def frame_sms(draft: Draft, system: SystemParts, *, ai_drafted: bool) -> FramedMessage:
    """``Sender: text [AI note]`` then the opt-out line."""
    words = wording(draft.language)
    text = f"{system.sender_name}: {draft.body.strip()}"
    if ai_drafted and system.ai_disclosure:
        text += f" {words['ai_short']}"
    return FramedMessage(subject="", preheader="", text=f"{text}\n{words['sms_opt_out']}")


def frame_email(draft: Draft, system: SystemParts, *, ai_drafted: bool, unsubscribe_url: str | None) -> FramedMessage:
    """Body, then a footer with the AI note, sender, postal address and the unsubscribe link."""
    words = wording(draft.language)
    footer = []
    if ai_drafted and system.ai_disclosure:
        footer.append(words["ai"])
    footer += [f"{words['sent_by']} {system.sender_name}", system.postal_address]
    lines = list(footer) + ([f"{words['unsubscribe']}: {unsubscribe_url}"] if unsubscribe_url else [])
    text = draft.body.strip() + "\n\n--\n" + "\n".join(lines)
    return FramedMessage(subject=draft.subject, preheader=draft.preheader, text=text, footer=tuple(footer))
