"""Quarantine: a customer whose state cannot be folded or ticked is set aside, not crashed on again.

The stream worker keeps one value per customer in its state table. When that state is the
problem (the fold raises for it though the same event folds into a fresh state, its deadline or
tick raises, a tick makes it unstorable) the value becomes a quarantine entry::

    {"quarantine": {"reason", "stage", "since", "partition", "offset"},
     "state": <the customer's last good state>,
     "held": [{"payload", "encoding", "partition", "offset"}, ...],   # their later events, in order
     "held_bytes": n, "dead_lettered": n}

It lives in the table, so it is as durable as any state (changelogged, moves with its partition
on a rebalance). Later events of the customer are held in it, never folded and never dropped;
past ``MAX_HELD`` events or ``MAX_HELD_BYTES`` they are dead-lettered with a reason that says so.
An operator releases it (``retain quarantine release CUSTOMER``): a control record on ``events``,
keyed by the customer so it is ordered with their events, makes the worker fold the held events
into the kept state with the code now running (``reset``: into a fresh state instead). If that
fails again, the customer is quarantined again with the new reason. Every change is announced
on the ``quarantine`` topic (``notice``), which the projection keeps in SQL for the console and
``retain explain``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from infra.deadletter import payload_bytes, payload_text

# The events topic header that marks a control record (never set by the HTTP API).
CONTROL_HEADER = "retain-control"
RELEASE = "quarantine.release"
MAX_HELD = 500
MAX_HELD_BYTES = 256 * 1024


def is_quarantined(value: Any) -> bool:
    """Whether a state table value is a quarantine entry."""
    return isinstance(value, dict) and "quarantine" in value


def quarantine(kept: Any, *, reason: str, stage: str, partition: int | None, offset: int | None,
               now: dt.datetime) -> dict[str, Any]:
    """A new quarantine entry keeping ``kept`` (the last good state) aside, with why and where."""
    return {
        "quarantine": {"reason": reason, "stage": stage, "since": now.isoformat(), "partition": partition,
                       "offset": offset},
        "state": kept, "held": [], "held_bytes": 0, "dead_lettered": 0,
    }


def hold(entry: dict[str, Any], raw: bytes | None, *, partition: int, offset: int, max_held: int = MAX_HELD,
         max_bytes: int = MAX_HELD_BYTES) -> dict[str, Any] | None:
    """The entry with one more held event, or ``None`` when the hold is full (dead-letter it instead)."""
    payload, encoding = payload_text(raw)
    size = len(payload or "")
    if len(entry["held"]) >= max_held or entry["held_bytes"] + size > max_bytes:
        return None
    item = {"payload": payload, "encoding": encoding, "partition": partition, "offset": offset}
    return {**entry, "held": [*entry["held"], item], "held_bytes": entry["held_bytes"] + size}


def count_dead_lettered(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry after one more of the customer's events was dead-lettered because the hold was full."""
    return {**entry, "dead_lettered": entry["dead_lettered"] + 1}


def held_payload(item: dict[str, Any]) -> bytes | None:
    """The raw bytes of one held event."""
    return payload_bytes(item["payload"], item["encoding"])


def full_reason(entry: dict[str, Any]) -> str:
    """The dead-letter reason of an event that found the customer's hold full."""
    q = entry["quarantine"]
    return (f"customer quarantined since {q['since']} ({q['stage']}: {q['reason']}) and its hold is full "
            f"({len(entry['held'])} events); release it with `retain quarantine release`")


def notice(customer_id: str, entry: dict[str, Any] | None, *, now: dt.datetime) -> dict[str, Any]:
    """What the ``quarantine`` topic says about a customer: quarantined (with counts) or released."""
    if entry is None:
        return {"customer_id": customer_id, "status": "released", "at": now.isoformat()}
    q = entry["quarantine"]
    return {"customer_id": customer_id, "status": "quarantined", "reason": q["reason"], "stage": q["stage"],
            "since": q["since"], "held": len(entry["held"]), "dead_lettered": entry["dead_lettered"],
            "at": now.isoformat()}


def release_request(customer_id: str, *, reset: bool, requested_by: str,
                    now: dt.datetime) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """``(key, value, headers)`` of the control record that releases a customer's quarantine."""
    value = {"customer_id": customer_id, "reset": reset, "requested_by": requested_by, "requested_at": now.isoformat()}
    return customer_id.encode(), json.dumps(value).encode(), [(CONTROL_HEADER, RELEASE.encode())]


def parse_release(raw: bytes | None) -> bool:
    """The ``reset`` flag of a release request (``ValueError`` when it is not one)."""
    body = json.loads(raw or b"")
    if not isinstance(body, dict) or not isinstance(body.get("reset", False), bool):
        raise ValueError("a quarantine release is a JSON object with a boolean 'reset'")
    return bool(body.get("reset", False))
