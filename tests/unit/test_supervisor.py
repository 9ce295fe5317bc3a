"""infra.supervisor: a crashed background task is logged, counted in Health and restarted."""

from __future__ import annotations

import asyncio
import logging

from infra.health import Health
from infra.supervisor import Supervisor
from tests.waiting import wait_for


async def test_a_crash_is_logged_counted_and_restarted(caplog):
    health = Health()
    runs: list[int] = []
    steady = asyncio.Event()

    async def loop(reporter) -> None:
        runs.append(len(runs))
        reporter.ok()
        if len(runs) <= 2:
            raise RuntimeError(f"bug number {len(runs)}")
        steady.set()
        await asyncio.Event().wait()  # runs until cancelled

    with caplog.at_level(logging.ERROR, logger="infra.supervisor"):
        async with Supervisor(health, restart_base=0.01, restart_cap=0.02) as supervisor:
            supervisor.start("consumer.loop", loop)
            await wait_for(steady.is_set, 10, "the third run")
            state = health.snapshot()["consumer.loop"]
            assert (state["status"], state["restarts"], state["failures"]) == ("ok", 2, 2)
    assert len(runs) == 3
    crashes = [r for r in caplog.records if "consumer.loop crashed" in r.getMessage()]
    assert len(crashes) == 2 and all(r.exc_info for r in crashes)  # the traceback is logged


async def test_failed_until_restarted_and_a_finished_task_leaves_health():
    health = Health()
    failing = asyncio.Event()

    async def crashes(reporter) -> None:
        failing.set()
        raise ValueError("boom")

    async def finishes(reporter) -> None:
        reporter.ok()

    async with Supervisor(health, restart_base=5.0) as supervisor:  # the restart waits: failed is visible
        supervisor.start("crasher", crashes)
        done = supervisor.start("one-shot", finishes)
        await wait_for(lambda: health.snapshot().get("crasher", {}).get("status") == "failed", 10, "failed shown")
        assert "crasher" in health.problems() and not health.ready()
        await done.task
        assert "one-shot" not in health.snapshot()
