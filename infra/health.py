"""What every background part of the service says about itself: the truth behind ``/readyz``.

Each part (a stream agent, the tick timer, a consumer loop, the scheduler, the outbox sender)
registers once and reports as it runs. ``Health.snapshot(now)`` is what ``/readyz``, ``/metrics``
and the demo summary show; ``Health.ready(now)`` is true only when every registered part is
``ok`` and, if it promised a heartbeat, beat recently. Reporting is plain attribute writes under
a lock: cheap enough for a per-batch ``beat()``, safe from the scheduler's worker threads.

>>> import datetime as dt
>>> t0 = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
>>> health = Health(clock=lambda: t0)
>>> ticks = health.register("signals.ticks", stale_after=dt.timedelta(seconds=10))
>>> health.ready(t0)            # registered but not yet started
False
>>> ticks.ok()
>>> health.ready(t0 + dt.timedelta(seconds=5))
True
>>> health.ready(t0 + dt.timedelta(seconds=11))   # no beat for longer than promised
False
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

STARTING, OK, DEGRADED, FAILED = "starting", "ok", "degraded", "failed"


def utc_now() -> dt.datetime:
    """Wall-clock now, UTC-aware."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class ComponentState:
    """One part's last report."""

    name: str
    status: str = STARTING
    detail: str = ""
    since: dt.datetime | None = None  # when the status last changed
    last_beat: dt.datetime | None = None
    stale_after: dt.timedelta | None = None  # None: the part does not promise a heartbeat
    restarts: int = 0
    failures: int = 0  # reports of ``failed`` since start

    def is_stale(self, now: dt.datetime) -> bool:
        """True when the part promised a heartbeat and has not beaten for longer than that."""
        if self.stale_after is None or self.status != OK:
            return False
        return self.last_beat is None or now - self.last_beat > self.stale_after

    def as_dict(self, now: dt.datetime) -> dict[str, Any]:
        """Plain data for JSON (times as ISO strings)."""
        status = "stale" if self.is_stale(now) else self.status
        return {
            "status": status,
            "detail": self.detail,
            "since": self.since.isoformat() if self.since else None,
            "last_beat": self.last_beat.isoformat() if self.last_beat else None,
            "restarts": self.restarts,
            "failures": self.failures,
        }


@dataclass
class Reporter:
    """The handle one part reports through."""

    _health: "Health"
    _state: ComponentState

    @property
    def name(self) -> str:
        """The part's registered name."""
        return self._state.name

    def ok(self, detail: str = "") -> None:
        """Working normally (also counts as a heartbeat)."""
        self._health._set(self._state, OK, detail, beat=True)

    def beat(self) -> None:
        """Still alive and making progress (status unchanged)."""
        with self._health._lock:
            self._state.last_beat = self._health.clock()

    def degraded(self, detail: str) -> None:
        """Running but not doing its job now (e.g. waiting for the database); not ready."""
        self._health._set(self._state, DEGRADED, detail)

    def failed(self, detail: str) -> None:
        """Stopped by an error; not ready until it reports ``ok`` again."""
        self._health._set(self._state, FAILED, detail, failure=True)

    def restarted(self, detail: str = "") -> None:
        """Was restarted by its supervisor after a failure."""
        with self._health._lock:
            self._state.restarts += 1
        self._health._set(self._state, STARTING, detail or "restarting")


@dataclass
class Health:
    """The registry of every part's state; one per process."""

    clock: Callable[[], dt.datetime] = utc_now
    _components: dict[str, ComponentState] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, name: str, *, stale_after: dt.timedelta | None = None) -> Reporter:
        """Register a part (status ``starting``); registering a name again returns the same state."""
        with self._lock:
            state = self._components.get(name)
            if state is None:
                state = self._components[name] = ComponentState(name, since=self.clock(), stale_after=stale_after)
            elif stale_after is not None:
                state.stale_after = stale_after
        return Reporter(self, state)

    def unregister(self, name: str) -> None:
        """Forget a part that was stopped on purpose."""
        with self._lock:
            self._components.pop(name, None)

    def snapshot(self, now: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
        """Every part's state as plain data, by name."""
        now = now or self.clock()
        with self._lock:
            return {name: state.as_dict(now) for name, state in sorted(self._components.items())}

    def problems(self, now: dt.datetime | None = None) -> dict[str, str]:
        """``{name: why}`` for every part that is not ok (or is stale)."""
        now = now or self.clock()
        out = {}
        for name, state in self.snapshot(now).items():
            if state["status"] != OK:
                out[name] = f"{state['status']}: {state['detail']}".rstrip(": ")
        return out

    def ready(self, now: dt.datetime | None = None) -> bool:
        """True when every registered part is ok and none is stale."""
        return not self.problems(now)

    def _set(self, state: ComponentState, status: str, detail: str, *, beat: bool = False,
             failure: bool = False) -> None:
        now = self.clock()
        with self._lock:
            if state.status != status:
                state.since = now
            state.status, state.detail = status, detail
            if beat:
                state.last_beat = now
            if failure:
                state.failures += 1
