"""The provider calls of a sender pass: rows committed as ``sending``, called inline or in a pool, answered.

Only the calls run in the pool's threads; the answers go back to the claiming thread, which
records them. ``ProviderCalls.answers`` waits until at most ``keep`` calls are open, so the
claiming thread can write the next chunk while a pool-ful is in flight.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from outreach.channels.base import Channel, OutgoingMessage, SendError, SendResult
from outreach.outbox.records import OutboxRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Flight:
    """A row committed as ``sending`` and the provider call that sends it (the only part run in a pool)."""

    row: OutboxRecord
    channel: Channel
    message: OutgoingMessage
    hashed: str | None

    def call(self) -> "SendResult | SendError":
        """The provider call; a ``SendError`` is returned as the answer it is, anything else raises."""
        try:
            return self.channel.send(self.message)
        except SendError as exc:
            return exc


@dataclass(frozen=True)
class Answer:
    """What the provider answered for a flight, and the pass time it is recorded at."""

    flight: Flight
    outcome: "SendResult | SendError"
    at: dt.datetime


class ProviderCalls:
    """Runs the provider calls of flights (inline for one at a time, else in a pool) and hands back the answers."""

    def __init__(self, concurrency: int) -> None:
        self._pool = (ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="outbox-send")
                      if concurrency > 1 else None)
        self._finished: queue.SimpleQueue[tuple[Flight, Future[Any]]] = queue.SimpleQueue()
        self._open = 0

    def __enter__(self) -> "ProviderCalls":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def start(self, flight: Flight) -> None:
        """Start the flight's call; a ``BaseException`` of an inline call (the process stopping) propagates."""
        self._open += 1
        if self._pool is not None:
            self._pool.submit(flight.call).add_done_callback(lambda done: self._finished.put((flight, done)))
            return
        future: Future[Any] = Future()
        try:
            future.set_result(flight.call())
        except Exception as exc:  # noqa: BLE001 - handed over as a pool would
            future.set_exception(exc)
        self._finished.put((flight, future))

    def answers(self, *, keep: int, at: dt.datetime) -> list[Answer]:
        """The answers of the calls finished so far, waiting for more until at most ``keep`` are open.

        A call that raised something other than ``SendError`` leaves its row in ``sending`` for
        ``reconcile``; a ``BaseException`` in a call (the process being stopped) propagates.
        """
        answers = []
        while self._open > keep or not self._finished.empty():
            flight, future = self._finished.get()
            self._open -= 1
            try:
                answers.append(Answer(flight, future.result(), at))
            except Exception:  # noqa: BLE001 - one row's failure never stops the others
                log.exception("sending message %s failed unexpectedly; left in sending for reconcile",
                              flight.row.message_id)
        return answers
