"""When each customer's next deadline falls, by partition: what the tick timer pops. Pure, no I/O."""

from __future__ import annotations

import datetime as dt
import heapq
from typing import Any, Iterable


class DueIndex:
    """Earliest tick deadline per customer key, grouped by partition.

    A heap per partition with lazy deletion: ``set`` pushes, stale heap entries (whose deadline
    no longer matches ``_deadline``) are skipped when popped.
    """

    def __init__(self) -> None:
        self._deadline: dict[int, dict[Any, dt.datetime]] = {}
        self._heap: dict[int, list[tuple[dt.datetime, Any]]] = {}

    def set(self, partition: int, customer_id: Any, deadline: dt.datetime | None) -> None:
        """Record (or clear, with ``None``) the next deadline of one customer."""
        deadlines = self._deadline.setdefault(partition, {})
        if deadline is None:
            deadlines.pop(customer_id, None)
            return
        if deadlines.get(customer_id) == deadline:
            return
        deadlines[customer_id] = deadline
        heapq.heappush(self._heap.setdefault(partition, []), (deadline, customer_id))

    def get(self, partition: int, customer_id: Any) -> dt.datetime | None:
        """The customer's recorded deadline, if any."""
        return self._deadline.get(partition, {}).get(customer_id)

    def pop_due(self, now: dt.datetime, partitions: Iterable[int] | None = None) -> list[tuple[int, Any]]:
        """Remove and return ``(partition, customer_id)`` of every deadline ``<= now`` (in ``partitions`` only)."""
        due: list[tuple[int, Any]] = []
        chosen = self._heap if partitions is None else {p: self._heap[p] for p in partitions if p in self._heap}
        for partition, heap in chosen.items():
            deadlines = self._deadline.get(partition, {})
            while heap and heap[0][0] <= now:
                deadline, customer_id = heapq.heappop(heap)
                if deadlines.get(customer_id) == deadline:
                    del deadlines[customer_id]
                    due.append((partition, customer_id))
        return due

    def keep_only(self, partitions: Iterable[int]) -> None:
        """Forget every partition not in ``partitions`` (revoked ones)."""
        keep = set(partitions)
        for partition in [p for p in self._deadline if p not in keep]:
            self._deadline.pop(partition, None)
            self._heap.pop(partition, None)

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""
        self._deadline.clear()
        self._heap.clear()

    def __len__(self) -> int:
        return sum(len(d) for d in self._deadline.values())
