"""Bounded waits for tests that watch a running service: poll a condition, never sleep for timing."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import pytest


def wait_until(condition: Callable[[], Any], timeout: float, what: str | Callable[[], str], *,
               interval: float = 0.2, context: Callable[[], str] | None = None) -> Any:
    """``wait_for`` from a plain thread; the failure names ``what`` and adds ``context()`` (a service's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)  # polling interval of a bounded wait, not a timing assumption
    described = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout}s waiting for {described}\n{context() if context else ''}")


async def wait_for(condition: Callable[[], Any], timeout: float, what: str | Callable[[], str],
                   *, interval: float = 0.1) -> Any:
    """Poll ``condition`` until truthy and return its value; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(interval)  # polling interval of a bounded wait, not a timing assumption
    pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")


async def wait_for_async(condition: Callable[[], Awaitable[Any]], timeout: float, what: str | Callable[[], str],
                         *, interval: float = 0.2) -> Any:
    """``wait_for`` with a coroutine condition (e.g. an HTTP probe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(interval)  # polling interval of a bounded wait, not a timing assumption
    pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
