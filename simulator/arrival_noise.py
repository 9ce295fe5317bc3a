"""How events really arrive: some twice, some a little late, a rare few broken.

The simulator decides at push time whether an event is re-sent (same ``event_id``), arrives late
(emitted after its ``occurred_at``) or gets a malformed sibling for dead-letter demos. Malformed
events are extra records with their own id; the real history is never lost.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ArrivalNoise:
    """Shares of events that are duplicated, delivered late, or joined by a malformed record."""

    duplicate_share: float = 0.002
    late_share: float = 0.005
    malformed_share: float = 0.0
    max_late_seconds: float = 240.0  # "slightly late": inside the detectors' allowed lateness

    def __post_init__(self) -> None:
        for name in ("duplicate_share", "late_share", "malformed_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")


# Each breaks exactly one thing so a dead-letter reason can name it.
MALFORMATIONS: tuple[str, ...] = (
    "missing_customer_id", "unknown_type", "naive_timestamp", "negative_amount", "not_an_object_payload",
)


def malformed_variant(event: dict[str, Any], rng: random.Random, new_event_id: str) -> dict[str, Any]:
    """A broken copy of ``event`` (a different id, so the original still counts)."""
    broken = copy.deepcopy(event)
    broken["event_id"] = new_event_id
    kind = rng.choice(MALFORMATIONS)
    if kind == "missing_customer_id":
        broken.pop("customer_id", None)
    elif kind == "unknown_type":
        broken["type"] = "order.teleported"
    elif kind == "naive_timestamp":
        broken["occurred_at"] = broken["occurred_at"].split("+")[0]
    elif kind == "negative_amount":
        broken["type"] = "order.placed"
        broken["properties"] = {"order_id": "ord_broken", "amount": -5.0,
                                "promised_ship_by": event["occurred_at"], "promised_delivery_by": event["occurred_at"]}
    else:
        broken["properties"] = "not an object"
    return broken
