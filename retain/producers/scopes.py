"""What an ingest credential may send. Pure.

Behavioural events (orders, checkouts, usage, ...) need ``events``. Contact details and consent
(``customer.profile``, which Segment ``identify`` becomes) need ``profile``: they decide where and
whether messages go, so a leaked storefront token must not be able to redirect them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

EVENTS = "events"
PROFILE = "profile"
SCOPES: dict[str, str] = {
    EVENTS: "behavioural events: orders, shipments, checkouts, usage, subscriptions, message reactions",
    PROFILE: "contact details and consent: customer.profile events and Segment identify calls",
}
# Event types that need more than ``events``; every other type needs ``events``.
PRIVILEGED_TYPES: dict[str, str] = {"customer.profile": PROFILE}


def scope_needed(event_type: str) -> str:
    """The scope a credential needs to send an event of ``event_type``."""
    return PRIVILEGED_TYPES.get(event_type, EVENTS)


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in canonical order; ValueError naming an unknown one or an empty set."""
    given = set(scopes)
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}")
    if not given:
        raise ValueError(f"give at least one scope ({', '.join(SCOPES)})")
    return [scope for scope in SCOPES if scope in given]


def out_of_scope(events: Sequence[Any], scopes: Iterable[str]) -> list[tuple[int, str, str]]:
    """``(index, event type, scope needed)`` of every event the scopes do not cover."""
    allowed = set(scopes)
    return [(index, event.type, scope_needed(event.type)) for index, event in enumerate(events)
            if scope_needed(event.type) not in allowed]
