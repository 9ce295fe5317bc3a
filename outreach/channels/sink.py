"""The local sink (embedded default): stores rendered messages instead of sending them.

It answers ``lookup`` exactly, so a crash after a sink "send" is reconciled, not held. The demo
reads ``delivered`` to let simulated customers react.
"""

from __future__ import annotations

import logging
import threading
import uuid

from outreach.channels.base import OutgoingMessage, SendResult

log = logging.getLogger(__name__)


class SinkChannel:
    """A channel that keeps every message it was given, in memory."""

    provider = "sink"

    def __init__(self, name: str):
        self.name = name
        self.delivered: list[OutgoingMessage] = []
        self._by_message_id: dict[str, SendResult] = {}
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        """Store the message (once per message id) and report it accepted."""
        with self._lock:
            if message.message_id in self._by_message_id:
                return self._by_message_id[message.message_id]
            result = SendResult(provider=self.provider, provider_message_id=f"sink-{uuid.uuid4().hex[:16]}")
            self.delivered.append(message)
            self._by_message_id[message.message_id] = result
        log.info("sink %s message %s for rule %s: %s", self.name, message.message_id, message.rule_id,
                 message.subject or message.body[:60])
        return result

    def lookup(self, message_id: str) -> SendResult | None:
        """The stored result, or None when the message never reached the sink."""
        with self._lock:
            return self._by_message_id.get(message_id)
