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

import random
from dataclasses import dataclass, field


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
