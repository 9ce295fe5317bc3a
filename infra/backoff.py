"""Exponential backoff with "equal jitter": the one retry-delay formula of the service.

``backoff_delay(attempt)`` is uniform in [d/2, d] for d = min(cap, base * 2**(attempt-1)), so many
retries spread out instead of hitting the database or a provider together. ``Backoff`` is the
stateful form a retry loop holds: ``next()`` after each failure, ``reset()`` after a success.

>>> import random
>>> backoff = Backoff(base=1.0, cap=4.0, rng=random.Random(0))
>>> [round(backoff.next(), 2) for _ in range(4)]
[0.92, 1.76, 2.84, 2.52]
>>> backoff.failures
4
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from infra.transient import is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``attempt`` failures (>= 1) in a row."""
    if attempt < 1:
        raise ValueError("attempt counts failures so far and starts at 1")
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return float((rng or random).uniform(ceiling / 2, ceiling))


@dataclass
class Backoff:
    """Failures in a row and the delay before the next try."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random | None = None
    failures: int = field(default=0, init=False)

    def next(self) -> float:
        """Count one more failure; the seconds to wait before trying again."""
        self.failures += 1
        return backoff_delay(self.failures, base=self.base, cap=self.cap, rng=self.rng)

    def reset(self) -> None:
        """A success: the next failure starts from ``base`` again."""
        self.failures = 0


async def until_the_infrastructure_answers(step: Callable[[], Awaitable[T]], *, what: str,
                                          on_wait: Callable[[str], None] | None = None,
                                          backoff: Backoff | None = None) -> T:
    """``await step()``, tried again with backoff while it fails because the database or broker is away.

    For start-up steps that must finish before the service can run (a restart during an outage
    waits, says so through ``on_wait`` and goes on when the infrastructure is back, instead of
    exiting); any other error is raised at once. ``step`` must be safe to run again.
    """
    backoff = backoff or Backoff(base=0.5, cap=10.0)
    while True:
        try:
            return await step()
        except Exception as exc:  # noqa: BLE001 - only transient ones are retried below
            if not is_transient(exc):
                raise
            delay = backoff.next()
            detail = f"{what}: waiting for the database or broker ({type(exc).__name__}); retry in {delay:.1f}s"
            log.warning(detail)
            if on_wait is not None:
                on_wait(detail)
            await asyncio.sleep(delay)  # backoff between tries of an unavailable dependency
