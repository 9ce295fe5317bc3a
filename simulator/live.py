"""Live mode for ``retain demo``: a history backfill, then events stamped with wall-clock time.

``LiveFeed.next_batch(now)`` is the whole generator: the first call returns a backfill of
``backfill_days`` of history ending at ``now`` (so usage-drop and shipping detectors have a
baseline); later calls return what happened between the previous call and ``now``. Behaviour
runs ``speedup`` times faster than the wall clock (at 60, one real second is one simulated
minute of shopping and usage), and fulfilment is compressed further (a simulated day of
shipping lasts ``fulfilment_day_seconds``) so promises fall due within a short demo.
A small scripted cast guarantees that every detector has something to find in a 2-minute demo:
a customer whose usage collapsed over the last days, late and slipping orders, idle checkouts.
Churn is simulated in the backfill only (a live demo lasts minutes); messages delivered through
``deliver_message`` still change hazards and can trigger purchases. The feed never sleeps;
``events()`` paces with an injected ``sleep``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from simulator import behaviour
from simulator.arrival_noise import ArrivalNoise
from simulator.behaviour import DAY, Timing
from simulator.engine import Simulator
from simulator.hazard import Reaction

Clock = Callable[[], dt.datetime]


def wall_clock() -> dt.datetime:
    """The current UTC time (the default clock; the generator itself never reads it)."""
    return dt.datetime.now(dt.timezone.utc)


class LiveFeed:
    """Backfill then live events for a population (see the module docstring)."""

    def __init__(self, population_size: int = 300, seed: int = 0, speedup: float = 60.0,
                 backfill_days: int = 40, clock: Clock = wall_clock, *,
                 fulfilment_day_seconds: float = 40.0, demo_cast: bool = True,
                 noise: ArrivalNoise | None = None) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be > 0")
        if backfill_days < 0:
            raise ValueError("backfill_days must be >= 0")
        self.population_size, self.seed, self.speedup = population_size, seed, speedup
        self.backfill_days, self.clock, self.demo_cast = backfill_days, clock, demo_cast
        self.live_timing = Timing(fulfilment_day_seconds=fulfilment_day_seconds)
        self._noise = noise or ArrivalNoise(duplicate_share=0.002, late_share=0.0)
        self._rng = random.Random(f"retain-live:{seed}")
        self.simulator: Simulator | None = None
        self._last: float | None = None

    def next_batch(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Events up to ``now``: the backfill on the first call, then what happened since the last."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        ts = now.timestamp()
        if self.simulator is None:
            return self._backfill(now)
        sim = self.simulator
        assert self._last is not None
        if ts <= self._last:
            return []
        sim_days = (ts - self._last) * self.speedup / DAY
        rng = self._rng
        for life in sim.lives:
            c = life.customer
            if not life.active_at(ts):
                continue
            for _ in range(behaviour.poisson(rng, c.usage_baseline * life.usage_multiplier * sim_days)):
                behaviour.usage_session(life, rng.uniform(self._last, ts))
            rate = c.order_rate / c.checkout_completion * max(0.1, life.usage_multiplier)
            for _ in range(behaviour.poisson(rng, rate * sim_days)):
                behaviour.checkout(life, rng, rng.uniform(self._last, ts), self.live_timing)
        self._last = ts
        return sim.release(ts)

    def _backfill(self, now: dt.datetime) -> list[dict[str, Any]]:
        start = now - dt.timedelta(days=self.backfill_days)
        sim = Simulator(self.population_size, self.backfill_days, self.seed, start, noise=self._noise)
        self.simulator = sim
        if self.demo_cast:
            self._cast_history(sim, now)
        events = list(sim.run())
        sim.timing = self.live_timing  # from now on, reactions and orders use demo time
        self._last = now.timestamp()
        if self.demo_cast:
            self._cast_live(sim, now.timestamp())
        return events

    def _cast(self, sim: Simulator, count: int, predicate: Callable[[Any], bool]) -> list[Any]:
        chosen = [life for life in sim.lives if predicate(life.customer)][:count]
        return chosen or sim.lives[:count]

    def _cast_history(self, sim: Simulator, now: dt.datetime) -> None:
        """Scripted history: collapsed usage, a late and a slipping order, an idle checkout."""
        n = max(2, self.population_size // 50)
        rng = random.Random(f"retain-live:{self.seed}:cast")
        for life in self._cast(sim, n, lambda c: c.usage_baseline >= 2.5):
            sim.force_usage_decline(life.customer.customer_id, now - dt.timedelta(days=rng.uniform(3.5, 5.5)), floor=0.02)
        if self.backfill_days < 7:
            return
        timing, t_now = Timing(), now.timestamp()
        buyers = self._cast(sim, 3, lambda c: c.usage_baseline < 2.5)
        behaviour.place_order(buyers[0 % len(buyers)], rng, t_now - 2.5 * DAY, timing, fate="late_ship", allow_cancel=False)
        behaviour.place_order(buyers[1 % len(buyers)], rng, t_now - 6.0 * DAY, timing, fate="eta_slip")
        behaviour.checkout(buyers[2 % len(buyers)], rng, t_now - 1.2 * DAY, timing, outcome="idle")

    def _cast_live(self, sim: Simulator, t_now: float) -> None:
        """Scripted first minute: an idle checkout, an order that runs late, a carrier exception."""
        rng = random.Random(f"retain-live:{self.seed}:cast-live")
        quick = Timing(fulfilment_day_seconds=min(20.0, self.live_timing.fulfilment_day_seconds))
        actors = self._cast(sim, 3, lambda c: c.usage_baseline < 2.5 and c.index % 7 == 3)
        actors = [life for life in actors if life.active_at(t_now)] or sim.lives[:3]
        behaviour.checkout(actors[0], rng, t_now + 2.0, quick, outcome="idle", activities=1, max_gap=5.0)
        behaviour.place_order(actors[1 % len(actors)], rng, t_now + 3.0, quick, fate="late_ship", allow_cancel=False)
        behaviour.place_order(actors[2 % len(actors)], rng, t_now + 4.0, quick, fate="exception")

    async def events(self, *, tick_seconds: float = 1.0,
                     sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> AsyncIterator[dict[str, Any]]:
        """Yield events forever: ``next_batch(clock())`` every ``tick_seconds`` (paced by ``sleep``)."""
        while True:
            for event in self.next_batch(self.clock()):
                yield event
            await sleep(tick_seconds)

    def deliver_message(self, customer_id: str, at: dt.datetime, kind: str, channel: str = "email", *,
                        key: str | None = None, unwanted: bool = False) -> Reaction:
        """Feed an outreach message back into the population (see ``Simulator.deliver_message``)."""
        if self.simulator is None:
            raise RuntimeError("call next_batch() first: the population starts with the backfill")
        return self.simulator.deliver_message(customer_id, at, kind, channel, key=key, unwanted=unwanted)
