"""A plain-data view of what was already sent (or scheduled) to one customer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from triggers.rule import Channel, Topic


@dataclass(frozen=True)
class PastSend:
    """One message sent, or scheduled to be sent, to the customer.

    Scheduled (deferred) sends belong here too, with their planned time: a message waiting for
    the morning already uses up the episode, the cooldown and the caps.
    """

    sent_at: dt.datetime
    channel: Channel
    rule_id: str
    topic: Topic
    episode_key: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PastSend":
        """Build from a mapping with the same keys (``sent_at`` may be an ISO string)."""
        sent_at = data["sent_at"]
        if isinstance(sent_at, str):
            sent_at = dt.datetime.fromisoformat(sent_at)
        if sent_at.tzinfo is None:
            raise ValueError("sent_at must be timezone-aware")
        return cls(sent_at, data["channel"], data["rule_id"], data["topic"], data["episode_key"])


@dataclass(frozen=True)
class ContactHistory:
    """All past and scheduled sends to one customer (the caller picks how far back to load)."""

    sends: tuple[PastSend, ...] = ()

    @classmethod
    def of(cls, sends: Iterable[PastSend | Mapping[str, Any]]) -> "ContactHistory":
        """Build from ``PastSend`` objects or plain mappings."""
        return cls(tuple(s if isinstance(s, PastSend) else PastSend.from_dict(s) for s in sends))

    def since(self, start: dt.datetime) -> list[PastSend]:
        """Sends strictly after ``start`` (a send exactly at ``start`` is outside the window)."""
        return [s for s in self.sends if s.sent_at > start]
