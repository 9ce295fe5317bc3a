"""What the signals stage tells ``infra.health``: the events agent's crashes and restarts, the ticks' heartbeat.

``/readyz`` (``retain.api.health``) is only as truthful as these reports:

* ``signals.agent``: ``ok`` while the events agent runs; ``failed`` from a crash until Faust's
  supervisor restarts it; ``degraded`` while it has restarted ``max_restarts`` times or more within
  ``window`` (a crash loop: every batch fails), until the window has passed without one.
* ``signals.ticks``: beats on every tick; ``degraded`` while ticks are paused for a rebalance's
  table recovery; a tick timer that stopped goes stale after ``stale_after``.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Callable

from infra.health import Health, Reporter

AGENT, TICKS = "signals.agent", "signals.ticks"


class AgentHealth:
    """The events agent's reports: running, crashed, restarted (with a crash-loop window)."""

    def __init__(self, reporter: Reporter, clock: Callable[[], dt.datetime], *,
                 window: dt.timedelta = dt.timedelta(minutes=10), max_restarts: int = 3) -> None:
        self.reporter = reporter
        self.clock = clock
        self.window = window
        self.max_restarts = max_restarts
        self.crashed_at: dt.datetime | None = None
        self._restarts: deque[dt.datetime] = deque()

    def running(self) -> None:
        """The agent's loop (re)started or handled a batch."""
        if self.crashed_at is not None:
            self.crashed_at = None
            self._restarts.append(self.clock())
            self.reporter.restarted("restarted by Faust's supervisor after a crash")
        self.refresh()

    def crashed(self, exc: BaseException) -> None:
        """The agent raised out of its loop: Faust will restart it."""
        self.crashed_at = self.clock()
        self.reporter.failed(f"crashed: {type(exc).__name__}: {exc}"[:300])

    def refresh(self) -> None:
        """Re-judge the crash-loop window (called by every tick, so an idle agent recovers too)."""
        if self.crashed_at is not None:
            return
        now = self.clock()
        while self._restarts and now - self._restarts[0] > self.window:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            minutes = self.window.total_seconds() / 60
            self.reporter.degraded(f"restarted {len(self._restarts)} times in the last {minutes:g} min")
        else:
            self.reporter.ok()


def register(health: Health, clock: Callable[[], dt.datetime], tick_interval: float) -> tuple[AgentHealth, Reporter]:
    """Register the events agent and the tick timer; ticks go stale after ten missed intervals (10 s at least)."""
    agent = AgentHealth(health.register(AGENT), clock)
    ticks = health.register(TICKS, stale_after=dt.timedelta(seconds=max(10.0, 10 * tick_interval)))
    return agent, ticks
