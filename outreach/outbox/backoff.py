"""Retry delays: exponential backoff with jitter, never shorter than the provider's Retry-After."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int, *, retry_after: float | None = None, base: float = 30.0, cap: float = 3600.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` >= 1 failures so far).

    "Equal jitter": uniform in [d/2, d] for d = min(cap, base * 2**(attempt-1)), so retries of
    many messages spread out instead of hitting the provider together.

    >>> retry_delay(1, base=10, rng=random.Random(0)) <= 10
    True
    >>> retry_delay(1, retry_after=120, base=10, rng=random.Random(0))
    120.0
    """
    if attempt < 1:
        raise ValueError("attempt counts failures so far and starts at 1")
    ceiling = min(cap, base * 2 ** (attempt - 1))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    return float(max(delay, retry_after or 0.0))
