"""Retry delays of provider sends: the service's backoff, never shorter than the provider's Retry-After."""

from __future__ import annotations

import random

from infra.backoff import backoff_delay


def retry_delay(
    attempt: int, *, retry_after: float | None = None, base: float = 30.0, cap: float = 3600.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` >= 1 failures so far).

    >>> retry_delay(1, base=10, rng=random.Random(0)) <= 10
    True
    >>> retry_delay(1, retry_after=120, base=10, rng=random.Random(0))
    120.0
    """
    return float(max(backoff_delay(attempt, base=base, cap=cap, rng=rng), retry_after or 0.0))
