"""The channel port: send one rendered message, or look up one sent earlier.

A channel raises ``SendError`` saying whether trying again can help (429, 5xx, timeouts) and how
long the provider asked us to wait (``Retry-After``), and whether the failure means the recipient
opted out (Twilio 21610). ``lookup`` answers "did the provider accept message X?" after a crash;
channels whose API cannot search by our message id raise ``LookupUnsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready for a provider: rendered, addressed and labelled with our own ids only."""

    message_id: str
    channel: str
    to: str
    topic: str
    rule_id: str
    body: str
    subject: str | None = None
    html: str | None = None  # e-mail only: an HTML alternative to ``body``
    unsubscribe_url: str | None = None
    status_callback_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # the address must never reach a log line
        return f"OutgoingMessage(message_id={self.message_id!r}, channel={self.channel!r}, rule_id={self.rule_id!r})"


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message."""

    provider: str
    provider_message_id: str
    status: str = "accepted"


class SendError(Exception):
    """The provider refused or could not be reached."""

    def __init__(
        self, message: str, *, retryable: bool, retry_after: float | None = None, code: str | None = None,
        opted_out: bool = False, status: int | None = None, uncertain: bool = False,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code
        self.opted_out = opted_out
        self.status = status
        # The request may have reached the provider (a timeout after sending): never retry blindly.
        self.uncertain = uncertain


class LookupUnsupported(Exception):
    """The provider's API cannot find a message by our message id."""


class Channel(Protocol):
    """One delivery channel (``email`` or ``sms``) of one provider."""

    name: str
    provider: str

    def send(self, message: OutgoingMessage) -> SendResult:
        """Hand the message to the provider; raise ``SendError`` when it was not accepted."""
        ...

    def lookup(self, message_id: str) -> SendResult | None:
        """The provider's record of our message, None when it never arrived, or ``LookupUnsupported``."""
        ...


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; HTTP dates are ignored)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def retryable_status(status: int) -> bool:
    """429 and 5xx are worth retrying; other 4xx are not."""
    return status == 429 or 500 <= status < 600
