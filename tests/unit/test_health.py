"""infra.health: what /readyz believes about each background part."""

from __future__ import annotations

import datetime as dt
import doctest

import pytest

from infra import health as health_module
from infra.health import Health

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
S = dt.timedelta(seconds=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def test_doctests():
    assert doctest.testmod(health_module).failed == 0


@pytest.mark.parametrize(
    "reports, at, ready, status",
    [
        ([], 0, False, "starting"),  # registered, never reported
        (["ok"], 1, True, "ok"),
        (["ok"], 11, False, "stale"),  # promised a beat every 10 s
        (["ok", "beat@8"], 15, True, "ok"),
        (["ok", "degraded"], 1, False, "degraded"),
        (["ok", "failed"], 1, False, "failed"),
        (["ok", "failed", "ok"], 1, True, "ok"),  # recovered
        (["ok", "restarted"], 1, False, "starting"),
    ],
)
def test_readiness_follows_the_last_report(reports, at, ready, status):
    clock = Clock()
    health = Health(clock=clock)
    part = health.register("part", stale_after=10 * S)
    for report in reports:
        name, _, when = report.partition("@")
        clock.now = T0 + int(when or 0) * S
        getattr(part, name)(*(["why"] if name in ("degraded", "failed") else []))
    clock.now = T0 + at * S
    assert health.ready() is ready
    assert health.snapshot()["part"]["status"] == status


def test_problems_name_the_part_and_the_reason():
    health = Health(clock=lambda: T0)
    health.register("a").ok()
    health.register("b").failed("database unreachable")
    assert health.problems() == {"b": "failed: database unreachable"}


def test_counts_failures_and_restarts():
    health = Health(clock=lambda: T0)
    part = health.register("p")
    part.failed("x")
    part.restarted()
    part.failed("y")
    state = health.snapshot()["p"]
    assert (state["failures"], state["restarts"]) == (2, 1)


def test_parts_without_a_heartbeat_never_go_stale():
    clock = Clock()
    health = Health(clock=clock)
    health.register("quiet").ok()
    clock.now = T0 + dt.timedelta(days=1)
    assert health.ready()
