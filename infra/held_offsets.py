"""Keep Faust from committing offsets past records a stage has not durably handled.

Faust commits a record's offset once the stream holding it acks it, and ``Stream.take_events``
acks a batch's events in a ``finally``: also when the agent is cancelled, or gives a batch up, in
the middle of it. A stage that waits out a database outage would then lose the batch on a stop or
a rebalance: its offsets committed though nothing was stored. Inside ``held(events)`` that cannot
happen: if the block does not complete (an exception, a cancellation, ``Interrupted``), every
event's message is marked as finally acked *without* telling the consumer, so Faust neither
commits its offset nor waits for it any longer (``wait_empty`` on stop and rebalance), and the
records are read again from the last committed offset by the partition's next owner.

``wait_unless_interrupted(app, seconds)`` is the pause of a retry loop in an agent: it raises
``Interrupted`` as soon as Faust suspends the flow (a stop or a rebalance is under way), so the
agent lets go of its batch instead of holding the whole group until the database is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

POLL_SECONDS = 0.2  # how quickly a waiting agent notices a stop or a rebalance


class Interrupted(Exception):
    """A stop or rebalance began while the agent was waiting: give the batch up, uncommitted."""


@contextmanager
def held(events: Sequence[Any]) -> Iterator[None]:
    """The events' offsets are committed only if the block completes."""
    try:
        yield
    except BaseException:
        for event in events:
            # ``Message.ack`` skips a message already marked acked: the consumer never records the
            # offset as safe to commit, and ``wait_empty`` stops waiting for it.
            event.message.acked = True
        raise


async def wait_unless_interrupted(app: Any, seconds: float) -> None:
    """Sleep ``seconds``; raise ``Interrupted`` as soon as the app's flow is suspended (stop, rebalance)."""
    deadline = time.monotonic() + seconds
    while True:
        if not app.flow_control.is_active():
            raise Interrupted("the worker is stopping or rebalancing")
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(POLL_SECONDS, left))  # a retry backoff that watches for a stop
