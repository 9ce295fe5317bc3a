"""The ``Simulator``: steps a population day by day in event time and emits events in time order.

Events go into one heap keyed by arrival time, so the output is ordered by ``occurred_at``
except for the deliberately late arrivals of ``ArrivalNoise``. After day ``d`` is simulated,
everything arriving before day ``d + 1`` starts is final and is released. The same seed gives
the same events, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Iterator
from typing import Any

from simulator import behaviour, hazard, scenarios
from simulator.arrival_noise import ArrivalNoise, malformed_variant
from simulator.behaviour import DAY, CustomerLife, Timing, iso
from simulator.hazard import Reaction
from simulator.population import MOVE_DESTINATIONS, build_population, customer_rng

DEFAULT_START = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)


class Simulator:
    """A seeded population living through ``days`` days from ``start`` (an aware datetime)."""

    def __init__(self, customers: int, days: int, seed: int = 0, start: dt.datetime = DEFAULT_START, *,
                 noise: ArrivalNoise | None = None, horizon_days: int = 30,
                 observation_every_days: int = 7, first_observation_day: int = 14,
                 timing: Timing | None = None, scenario: str = "default") -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if days < 0:
            raise ValueError("days must be >= 0")
        self.seed, self.days, self.start = seed, days, start
        self.horizon_days = horizon_days
        self.noise = noise or ArrivalNoise()
        self.timing = timing or Timing()
        self._t0 = start.timestamp()
        self.end_ts = self._t0 + days * DAY
        if scenario not in scenarios.SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(scenarios.SCENARIOS)}, not {scenario!r}")
        self.scenario = scenario
        self.customers = build_population(customers, seed, start, scenario)
        self.lives = [CustomerLife(c, self._push) for c in self.customers]
        self._by_id = {life.customer.customer_id: life for life in self.lives}
        self._rngs = [customer_rng(seed, c.index, "life") for c in self.customers]
        # The product scenario's feature churn draws from its own streams: default runs are unchanged.
        self._product_rngs = ([customer_rng(seed, c.index, "product-life") for c in self.customers]
                              if scenario == "product" else [])
        self._noise_rng = random.Random(f"retain-sim:{seed}:noise")
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = 0
        self._malformed = 0
        self.day = 0  # next day to simulate
        self.released_until = self._t0  # everything arriving before this has been released
        self._forced: dict[int, tuple[float, float]] = {}  # index -> (decline start ts, floor)
        self.observation_days = [d for d in range(first_observation_day, days - horizon_days + 1,
                                                  max(1, observation_every_days))]
        # (day, customer index, probability without a message, probability had a message reached them then)
        self._observations: list[tuple[int, int, float, float]] = []
        for life in self.lives:  # everyone's profile is known upstream at the start
            life.emit(life, round(self._t0 + 1 + life.customer.index % 997 / 1000, 3),
                      "customer.profile", life.customer.profile_properties())

    # -- emitting --------------------------------------------------------------------------------
    def _push(self, life: CustomerLife, ts: float, type_: str, props: dict[str, Any]) -> None:
        life.event_count += 1
        event = {"event_id": f"evt_{self.seed}_{life.customer.index}_{life.event_count}",
                 "customer_id": life.customer.customer_id, "type": type_,
                 "occurred_at": iso(ts), "properties": props}
        noise, rng = self.noise, self._noise_rng
        arrival = ts
        if noise.late_share and rng.random() < noise.late_share:
            arrival = ts + rng.uniform(5.0, noise.max_late_seconds)
        self._enqueue(arrival, event)
        if noise.duplicate_share and rng.random() < noise.duplicate_share:
            self._enqueue(arrival + rng.uniform(0.5, 30.0), event)
        if noise.malformed_share and rng.random() < noise.malformed_share:
            self._malformed += 1
            self._enqueue(arrival + 0.001, malformed_variant(event, rng, f"evt_{self.seed}_bad_{self._malformed}"))

    def _enqueue(self, arrival: float, event: dict[str, Any]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (max(arrival, self.released_until), self._seq, event))

    def push_event(self, customer_id: str, at: dt.datetime | float, type_: str, props: dict[str, Any]) -> None:
        """Schedule one extra event for a customer (used by live mode and message reactions)."""
        ts = at.timestamp() if isinstance(at, dt.datetime) else at
        life = self._by_id[customer_id]
        life.emit(life, round(max(ts, self.released_until), 3), type_, props)

    def release(self, until: float) -> list[dict[str, Any]]:
        """Pop every queued event arriving before ``until`` (epoch seconds), in arrival order."""
        out = []
        heap = self._heap
        while heap and heap[0][0] < until:
            out.append(heapq.heappop(heap)[2])
        self.released_until = max(self.released_until, until)
        return out

    @property
    def malformed_count(self) -> int:
        """How many malformed demo events have been queued so far."""
        return self._malformed

    # -- stepping --------------------------------------------------------------------------------
    def step_day(self) -> list[dict[str, Any]]:
        """Simulate the next day and return the events that are now final."""
        if self.day >= self.days:
            raise StopIteration("simulation finished")
        d = self.day
        day_start = self._t0 + d * DAY
        observe = d in self.observation_days
        facts = behaviour.day_facts(day_start)
        for i, (life, rng) in enumerate(zip(self.lives, self._rngs)):
            if self._product_rngs and life.active_at(day_start):
                scenarios.evolve(life.customer.extras["product_use"], self._product_rngs[i], life.hazard.badness())
            self._live_one_day(life, rng, d, day_start, observe, facts)
        self.day += 1
        return self.release(day_start + DAY)

    def _live_one_day(self, life: CustomerLife, rng: random.Random, d: int, day_start: float, observe: bool,
                      facts: tuple[int, str]) -> None:
        c = life.customer
        state = life.hazard.decayed_to(float(d))
        if life.pending_experiences:
            due = [p for p in life.pending_experiences if p[0] < day_start]
            if due:
                life.pending_experiences = [p for p in life.pending_experiences if p[0] >= day_start]
                for _, kind in due:
                    state.record(kind)
                life.bad_experiences += len(due)
        life.hazard = state
        if life.churned_at is not None and life.churned_at < day_start:
            return
        if observe:
            p = self._projected_probability(life, state, self.horizon_days)
            self._observations.append((d, c.index, p, self._messaged_probability(life, state)))
        if life.churned_at is None:
            h = hazard.daily_hazard(c.base_hazard * scenarios.hazard_factor(c.extras), c.sensitivity, state)
            if rng.random() < 1.0 - math.exp(-h):
                life.churned_at = round(day_start + rng.random() * DAY, 3)
                behaviour.cancel_subscription(life, rng, life.churned_at)
        forced = self._forced.get(c.index)
        if forced is not None and forced[0] < day_start + DAY:
            life.decline_floor = forced[1]
            del self._forced[c.index]
        elif life.decline_floor is not None and rng.random() < 0.01:
            life.decline_floor = None  # some disengaged customers drift back by themselves
        elif life.decline_floor is None and life.usage_multiplier >= 1.0:
            if rng.random() < hazard.decline_start_probability(state):
                life.decline_floor = rng.uniform(0.0, 0.35)
        if self.scenario == "default":
            behaviour.usage_day(life, rng, day_start, facts)
        elif self.scenario == "product":
            use, product_rng = c.extras["product_use"], self._product_rngs[c.index]
            behaviour.usage_day(life, rng, day_start, facts,
                                counts_of=lambda sessions: scenarios.feature_counts(use, product_rng, sessions))
        else:
            behaviour.usage_day(life, rng, day_start, facts, emit=False)
        checkouts = behaviour.poisson(rng, c.order_rate / c.checkout_completion * max(0.1, life.usage_multiplier))
        for _ in range(checkouts):
            ts = behaviour.local_time_in_day(rng, c, day_start)
            if life.active_at(ts):
                behaviour.checkout(life, rng, ts, self.timing)
        ts = day_start + rng.random() * DAY
        if life.active_at(ts):
            if self.scenario != "shop":
                behaviour.plan_change(life, rng, ts)
            behaviour.profile_update(life, rng, ts, MOVE_DESTINATIONS)

    def run(self, progress: Any = None) -> Iterator[dict[str, Any]]:
        """Every remaining day's events, in arrival order; ``progress.update(1)`` per day if given.

        Events that would happen after the last day (parcels still in flight) are not emitted.
        """
        while self.day < self.days:
            yield from self.step_day()
            if progress is not None:
                progress.update(1)

    # -- hooks for outreach ------------------------------------------------------------------------
    def react_to_message(self, customer_id: str, at: dt.datetime, kind: str, channel: str = "email", *,
                         key: str | None = None, unwanted: bool = False) -> Reaction:
        """How the customer would react to a message of ``kind`` on ``channel`` (no state change).

        The draw is keyed by ``key`` (the message's idempotency key) when given, else by ``at``, so
        the same message gets the same reaction in every run of the same seed.
        """
        life = self._by_id[customer_id]
        u = random.Random(f"retain-sim:{self.seed}:{customer_id}:{key or at.isoformat()}:{kind}:reaction").random()
        return hazard.choose_reaction(life.customer.persuadable, u, channel=channel, kind=kind, unwanted=unwanted)

    def deliver_message(self, customer_id: str, at: dt.datetime, kind: str, channel: str = "email", *,
                        key: str | None = None, unwanted: bool = False) -> Reaction:
        """A message reaches the customer: update their hazard and behaviour, return the reaction.

        The caller decides what a reaction means for consent (STOP, unsubscribe, complaint);
        a purchase is simulated here (a checkout that completes within hours). ``unwanted`` marks
        a message its recipients never wanted (see ``hazard.UNWANTED``).
        """
        life = self._by_id[customer_id]
        reaction = self.react_to_message(customer_id, at, kind, channel, key=key, unwanted=unwanted)
        if not life.active_at(at.timestamp()):
            return Reaction.IGNORED
        life.messages += 1
        when = max(float(self.day), (at.timestamp() - self._t0) / DAY)
        life.hazard = life.hazard.decayed_to(max(when, life.hazard.day))
        hazard.apply_message(life.hazard, life.customer.response_type, reaction)
        rng = random.Random(f"retain-sim:{self.seed}:{customer_id}:{at.isoformat()}:{kind}:effect")
        if life.customer.persuadable and kind == "usage_drop" and life.decline_floor is not None and rng.random() < 0.6:
            life.decline_floor = None  # the nudge worked: usage recovers
        if reaction is Reaction.PURCHASED:
            delay = rng.uniform(0.5, 36.0) * 3600 * self.timing.fulfilment_day_seconds / DAY
            start = max(at.timestamp() + delay, self.released_until)
            behaviour.checkout(life, rng, start, self.timing, outcome="completed")
        return reaction

    def force_usage_decline(self, customer_id: str, at: dt.datetime, floor: float = 0.05) -> None:
        """Make a customer's usage collapse from ``at`` on (used to guarantee demo signals)."""
        self._forced[self._by_id[customer_id].customer.index] = (at.timestamp(), floor)

    # -- ground truth ------------------------------------------------------------------------------
    def life(self, customer_id: str) -> CustomerLife:
        """The simulator's state of one customer (latent traits included)."""
        return self._by_id[customer_id]

    def true_churn_probability(self, customer_id: str, at: dt.datetime, horizon_days: int) -> float:
        """P(churn within ``horizon_days`` after ``at``) from the customer's current latent state.

        ``at`` must not precede the last simulated day (the past is in ``labels()``); a customer
        who has already churned by ``at`` gets 1.0.
        """
        life = self._by_id[customer_id]
        if not life.active_at(at.timestamp()):
            return 1.0
        day = (at.timestamp() - self._t0) / DAY
        state = life.hazard.decayed_to(day)
        return self._projected_probability(life, state, horizon_days)

    def _messaged_probability(self, life: CustomerLife, state: hazard.HazardState) -> float:
        """The churn probability had one (ignored, i.e. not objected to) message reached them now.

        The counterfactual of the observation: ``true_probability`` minus this is the message's
        true individual effect. Nothing random is drawn, so the simulation itself is unchanged.
        """
        messaged = state.decayed_to(state.day)  # a copy
        hazard.apply_message(messaged, life.customer.response_type, Reaction.IGNORED)
        return self._projected_probability(life, messaged, self.horizon_days)

    @staticmethod
    def _projected_probability(life: CustomerLife, state: hazard.HazardState, horizon_days: int) -> float:
        c = life.customer
        # Expected new bad experiences per day: ~16% of orders go wrong, ~60% of unfinished
        # checkouts are noticed as abandoned (see behaviour.place_order / behaviour.checkout).
        checkouts = c.order_rate / c.checkout_completion
        # The product scenario's feature mix is taken as it is now for the whole horizon.
        return hazard.churn_probability(
            c.base_hazard * scenarios.hazard_factor(c.extras), c.sensitivity, state, horizon_days,
            late_rate=c.order_rate * 0.16, abandon_rate=checkouts * (1 - c.checkout_completion),
            declining=life.decline_floor is not None)

    def labels(self) -> list[dict[str, Any]]:
        """Ground truth per (observation date, live customer): true probability and realised churn.

        ``true_effect`` is the message's true individual effect in probability: how much one
        message at the observation would LOWER the churn probability (negative for sleeping dogs).
        """
        rows = []
        horizon = self.horizon_days * DAY
        for d, index, p, p_messaged in self._observations:
            observed = self._t0 + d * DAY
            life = self.lives[index]
            churned_at = life.churned_at
            rows.append({
                "customer_id": life.customer.customer_id,
                "observed_at": iso(observed),
                "horizon_days": self.horizon_days,
                "true_probability": round(p, 6),
                "churned": churned_at is not None and observed <= churned_at < observed + horizon,
                "churned_at": iso(churned_at) if churned_at is not None else None,
                "persuadable": life.customer.persuadable,
                "response_type": life.customer.response_type,
                "true_probability_if_messaged": round(p_messaged, 6),
                "true_effect": round(p - p_messaged, 6),
            })
        return rows
