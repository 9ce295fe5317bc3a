"""Times provider API calls (SendGrid, Twilio, the LLM) into ``retain_provider_latency_seconds``.

A context manager around the one call that goes over the network: the duration is recorded with
``outcome="ok"`` when the block finishes and ``outcome="error"`` when it raises (the exception
goes on unchanged, the adapter still turns it into its own error).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from infra.metrics import observe_provider_latency


@contextmanager
def timed_provider_call(provider: str, *, clock: Callable[[], float] = time.perf_counter) -> Iterator[None]:
    """Record how long the ``with`` block took under ``provider``, with outcome ok or error."""
    started = clock()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        observe_provider_latency(provider, clock() - started, outcome=outcome)
