"""One run of the send job drains a backlog: passes follow each other while they claim full batches.

Before, the job ran one pass of 20 rows per interval, so a process sent at most 20 messages a
second however fast its sender was (bench/bench_outbox_drain.py measures the sender alone).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from infra.settings import Settings
from outreach.jobs import OutreachJobs
from outreach.outbox.sender import Sender
from tests.fakes.outreach_world import CONFIG, T0, simple_compose, sqlite_engine
from tests.integration.test_outreach_send_concurrency import SlowProvider, _rows, _states

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(tmp_path):
    eng = sqlite_engine(tmp_path)
    yield eng
    eng.dispose()


class Timer:
    """A monotonic clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _jobs(engine, provider, *, batch: int, drain_seconds: float, timer=None) -> OutreachJobs:
    sender = Sender(engine, channels={"email": provider}, compose=simple_compose, rng=random.Random(0),
                    config=dataclasses.replace(CONFIG, concurrency=4))
    return OutreachJobs(sender, engine=engine, reputation=Settings().reputation, clock=lambda: T0, batch=batch,
                        drain_seconds=drain_seconds, **({"timer": timer} if timer else {}))


def test_one_run_sends_the_whole_backlog_in_batches(engine):
    _rows(engine, 45)
    provider = SlowProvider(latency=0.0)
    report = asyncio.run(_jobs(engine, provider, batch=20, drain_seconds=60).send_due())
    assert report.counts == {"sent": 45} and report.claimed == 45
    assert sorted(provider.accepted) == sorted(set(provider.accepted)) and len(provider.accepted) == 45
    assert set(_states(engine).values()) == {"sent"}


def test_a_run_stops_at_its_drain_time_and_the_next_one_goes_on(engine):
    _rows(engine, 45)
    provider = SlowProvider(latency=0.0)
    jobs = _jobs(engine, provider, batch=10, drain_seconds=2.5, timer=Timer(step=1.0))
    # Read at 1.0 (deadline 3.5); after the passes at 2.0 and 3.0 it goes on, after 4.0 it stops.
    assert asyncio.run(jobs.send_due()).counts == {"sent": 30}
    assert asyncio.run(jobs.send_due()).counts == {"sent": 15}  # the last pass claimed less than a batch
    assert len(provider.accepted) == len(set(provider.accepted)) == 45


def test_no_drain_time_means_one_batch_per_run(engine):
    _rows(engine, 12)
    report = asyncio.run(_jobs(engine, SlowProvider(latency=0.0), batch=5, drain_seconds=0).send_due())
    assert report.counts == {"sent": 5}
