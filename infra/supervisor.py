"""Every background task of a process runs under one ``Supervisor``: a crash is logged, counted, restarted.

``Supervisor.start(name, run)`` registers ``name`` in the process's ``Health`` and runs
``run(reporter)`` as a task. The task reports its own state through the reporter (``ok``,
``beat``, ``degraded`` while it waits for the database). When ``run`` raises, the supervisor logs
the traceback, reports ``failed`` (counted in ``failures``), waits with capped exponential
backoff (reset once a run has lasted ``healthy_after`` seconds), reports ``restarted`` (counted in
``restarts``) and calls ``run`` again. So a bug that kills a consumer loop shows in ``/readyz``
and ``/metrics`` and heals itself, instead of silently stopping a stage until someone restarts
the process. A ``run`` that returns has finished on purpose and is not restarted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from infra.backoff import Backoff
from infra.health import Health, Reporter

log = logging.getLogger(__name__)

Run = Callable[[Reporter], Awaitable[None]]


@dataclass
class Supervised:
    """One supervised task: ``stop()`` cancels it and waits for it to finish."""

    name: str
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Cancel the task (its ``run`` cleans up in ``finally``) and wait for it."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@dataclass
class Supervisor:
    """Starts background tasks and restarts the ones that crash; one per process, sharing its ``Health``."""

    health: Health
    restart_base: float = 0.5  # seconds before the first restart
    restart_cap: float = 30.0  # the longest wait between restarts
    healthy_after: float = 60.0  # a run that lasted this long resets the backoff
    stale_after: dt.timedelta | None = None  # default heartbeat promise of the parts started here
    _running: list[Supervised] = field(default_factory=list)

    def start(self, name: str, run: Run, *, stale_after: dt.timedelta | None = None) -> Supervised:
        """Run ``run(reporter)`` in the background under supervision; returns its handle."""
        reporter = self.health.register(name, stale_after=stale_after or self.stale_after)
        task = asyncio.create_task(self._supervise(name, run, reporter), name=name)
        supervised = Supervised(name, task)
        self._running.append(supervised)
        return supervised

    async def stop(self) -> None:
        """Stop every task started here, newest first."""
        while self._running:
            await self._running.pop().stop()

    async def __aenter__(self) -> "Supervisor":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _supervise(self, name: str, run: Run, reporter: Reporter) -> None:
        backoff = Backoff(base=self.restart_base, cap=self.restart_cap)
        while True:
            started = time.monotonic()
            try:
                await run(reporter)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever killed it: log, count, restart
                if time.monotonic() - started >= self.healthy_after:
                    backoff.reset()
                delay = backoff.next()
                log.exception("%s crashed; restarting in %.1fs", name, delay)
                reporter.failed(f"crashed: {type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(delay)  # backoff before the restart, not a timing assumption
                reporter.restarted(f"restarted after {type(exc).__name__}")
                continue
            log.info("%s finished", name)
            self.health.unregister(name)
            return
