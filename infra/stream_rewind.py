"""Records the consumer fetched but no agent handled are read again (issue 11, docs/streaming.md).

Faust drops fetched records in three places and counts on the next rebalance to read them again
(a new assignment starts each partition at its committed offset, or at the earliest one when
nothing was committed):

* ``FlowControlEvent.resume()`` and ``clear()`` empty every stream buffer. ``resume()`` is the
  last step of every table recovery (``Recovery.on_recovery_completed``), after the stream
  partitions were resumed and the fetcher already delivered records into those buffers; no
  rebalance follows, so on the fresh embedded broker those records were skipped until the next
  restart. ``clear()`` also cancels a put blocked on a full buffer: that delivery returns as if
  it had delivered.
* ``Consumer.getmany`` stops yielding a fetched batch when the flow stops or the generation
  changes.

``Rewinds`` keeps, per partition, the lowest offset to read again and the consumer generation it
was fetched in; ``EagerConsumer`` (``infra.stream_consumer``) seeks there before its next fetch
and meanwhile delivers nothing more of that partition, so the records come again once each and in
order. A rewind from an older generation is dropped: the new assignment already starts at the
committed offset, and seeking forward from there would skip records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mode.utils.queues import FlowControlEvent


class Rewinds:
    """Per partition: the lowest offset fetched but not handled, and the generation it was fetched in."""

    def __init__(self) -> None:
        self._pending: dict[Any, tuple[int, int]] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def __contains__(self, tp: Any) -> bool:
        return tp in self._pending

    def note(self, tp: Any, offset: int, generation: int) -> None:
        """Read ``tp`` again from ``offset`` (kept if lower than what is pending already)."""
        pending = self._pending.get(tp)
        if pending is None or pending[1] != generation or offset < pending[0]:
            self._pending[tp] = (offset, generation)

    def take(self, generation: int, assigned: Iterable[Any]) -> dict[Any, int]:
        """The seeks to make now: pending rewinds of this generation on assigned partitions; all are forgotten."""
        owned = set(assigned)
        pending, self._pending = self._pending, {}
        return {tp: offset for tp, (offset, gen) in pending.items() if gen == generation and tp in owned}


def unyielded(fetched: Mapping[Any, Sequence[Any]], last_yielded: Mapping[Any, int]) -> dict[Any, Any]:
    """Per partition, the first record of a fetched batch past the last one ``getmany`` yielded."""
    first: dict[Any, Any] = {}
    for tp, records in fetched.items():
        seen = last_yielded.get(tp)
        if not records or (seen is not None and records[-1].offset <= seen):
            continue  # the whole batch was yielded (the common case: no scan)
        for record in records:
            if seen is None or record.offset > seen:
                first[tp] = record
                break
    return first


def buffered_messages(queues: Iterable[Any]) -> list[Any]:
    """The messages of the events waiting in stream buffers (``FlowControlQueue`` items are events)."""
    messages = []
    for queue in queues:
        for item in list(getattr(queue, "_queue", ())):
            message = getattr(item, "message", None)
            if message is not None:
                messages.append(message)
    return messages


class RewindingFlowControl(FlowControlEvent):
    """``app.flow_control`` that reports the records it discards, so they are read again.

    ``clears`` counts the clears: a delivery that was under way across one may have had its
    blocked put cancelled by it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clears = 0
        self.on_discard: Callable[[list[Any]], None] | None = None

    def clear(self) -> None:
        discarded = buffered_messages(self._queues)
        super().clear()
        self.clears += 1
        if discarded and self.on_discard is not None:
            self.on_discard(discarded)
