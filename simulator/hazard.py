"""The latent churn hazard: pure functions over a customer's experience scores.

A customer's daily churn hazard is ``base * exp(sensitivity * badness - relief)`` where badness
sums exponentially decaying scores of bad experiences (late shipments, abandoned checkouts,
annoyance) plus the current usage-decline level, and relief is the decaying goodwill a helpful
message leaves with a persuadable customer. Time is in days since the simulation start.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

# Half-lives in days: a late parcel stings for weeks, a helpful message helps for about a month.
BAD_HALF_LIFE = 21.0
RELIEF_HALF_LIFE = 30.0

WEIGHT_LATE = 1.0
WEIGHT_ABANDON = 0.35
WEIGHT_DECLINE = 2.2
WEIGHT_ANNOYANCE = 1.0

EXPERIENCE_SCORES = {"not_shipped": 1.0, "eta_slip": 0.8, "exception": 1.2, "abandoned": 1.0}
MESSAGE_RELIEF = 1.0
MAX_RELIEF = 2.0
MESSAGE_ANNOYANCE = 0.15
# Mean usage-decline level once a customer disengages (floor ~U(0, 0.35), reached within days).
EXPECTED_DECLINE = 0.75

_BAD_DECAY = math.log(2) / BAD_HALF_LIFE
_RELIEF_DECAY = math.log(2) / RELIEF_HALF_LIFE


@dataclass
class HazardState:
    """A customer's experience scores as of ``day`` (days since the simulation start)."""

    day: float = 0.0
    late: float = 0.0
    abandon: float = 0.0
    annoyance: float = 0.0
    relief: float = 0.0
    decline: float = 0.0  # 0 healthy .. 1 usage gone; a level, it does not decay by itself

    def decayed_to(self, day: float) -> "HazardState":
        """The same scores aged to ``day`` (never backwards)."""
        if day < self.day:
            raise ValueError(f"cannot age hazard state from day {self.day} back to {day}")
        elapsed = day - self.day
        bad = math.exp(-_BAD_DECAY * elapsed)
        good = math.exp(-_RELIEF_DECAY * elapsed)
        return HazardState(day, self.late * bad, self.abandon * bad, self.annoyance * bad,
                           self.relief * good, self.decline)

    def record(self, kind: str) -> None:
        """Add one bad experience (``not_shipped``, ``eta_slip``, ``exception``, ``abandoned``)."""
        score = EXPERIENCE_SCORES[kind]
        if kind == "abandoned":
            self.abandon += score
        else:
            self.late += score

    def badness(self) -> float:
        """The weighted sum of current bad-experience scores."""
        return (WEIGHT_LATE * self.late + WEIGHT_ABANDON * self.abandon
                + WEIGHT_DECLINE * self.decline + WEIGHT_ANNOYANCE * self.annoyance)


def daily_hazard(base: float, sensitivity: float, state: HazardState) -> float:
    """Probability-rate of churning per day for the given scores (capped below 1)."""
    return min(0.5, base * math.exp(sensitivity * state.badness() - state.relief))


def churn_probability(base: float, sensitivity: float, state: HazardState, horizon_days: int, *,
                      late_rate: float = 0.0, abandon_rate: float = 0.0, declining: bool = False) -> float:
    """P(churn within ``horizon_days`` | alive now): the expectation over the customer's future.

    Existing scores age; new bad experiences accrue at their expected daily rates (``late_rate``,
    ``abandon_rate``, in score units); a healthy customer may start disengaging each day
    (``decline_start_probability``), after which usage sits near ``EXPECTED_DECLINE``. A two-state
    (healthy / declining) survival recursion, O(horizon).
    """
    healthy, declining_mass = (0.0, 1.0) if declining else (1.0, 0.0)
    aged = HazardState(state.day, state.late, state.abandon, state.annoyance, state.relief, 0.0)
    decline_level = max(state.decline, EXPECTED_DECLINE) if declining else EXPECTED_DECLINE
    for _ in range(horizon_days):
        h_healthy = daily_hazard(base, sensitivity, aged)
        aged.decline = decline_level
        h_declining = daily_hazard(base, sensitivity, aged)
        aged.decline = 0.0
        p_start = decline_start_probability(aged)
        healthy, declining_mass = (healthy * math.exp(-h_healthy) * (1 - p_start),
                                   healthy * math.exp(-h_healthy) * p_start + declining_mass * math.exp(-h_declining))
        aged = aged.decayed_to(aged.day + 1)
        aged.late += late_rate
        aged.abandon += abandon_rate
    return 1.0 - (healthy + declining_mass)


def decline_start_probability(state: HazardState) -> float:
    """Daily chance that a healthy customer starts disengaging (bad experiences make it likelier)."""
    return min(0.2, 0.0025 * (1.0 + state.late + 0.5 * state.abandon + state.annoyance))


class Reaction(str, enum.Enum):
    """What a customer does with an outreach message."""

    IGNORED = "ignored"
    PURCHASED = "purchased"
    REPLIED_STOP = "replied_stop"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"


# Persuadable customers buy more and object less; the rest mostly ignore, sometimes opt out.
REACTION_WEIGHTS: dict[bool, dict[Reaction, float]] = {
    True: {Reaction.IGNORED: 0.66, Reaction.PURCHASED: 0.25, Reaction.REPLIED_STOP: 0.04,
           Reaction.UNSUBSCRIBED: 0.03, Reaction.COMPLAINED: 0.02},
    False: {Reaction.IGNORED: 0.80, Reaction.PURCHASED: 0.03, Reaction.REPLIED_STOP: 0.07,
            Reaction.UNSUBSCRIBED: 0.06, Reaction.COMPLAINED: 0.04},
}


def choose_reaction(persuadable: bool, u: float) -> Reaction:
    """The reaction that the uniform draw ``u`` in [0, 1) selects."""
    acc = 0.0
    weights = REACTION_WEIGHTS[persuadable]
    for reaction, weight in weights.items():
        acc += weight
        if u < acc:
            return reaction
    return Reaction.IGNORED


def apply_message(state: HazardState, persuadable: bool, reaction: Reaction) -> None:
    """Update scores after a message: goodwill for the persuadable, annoyance for objectors."""
    if reaction in (Reaction.REPLIED_STOP, Reaction.UNSUBSCRIBED, Reaction.COMPLAINED):
        state.annoyance += MESSAGE_ANNOYANCE * (3 if reaction is Reaction.COMPLAINED else 1)
        return
    if persuadable:
        state.relief = min(MAX_RELIEF, state.relief + MESSAGE_RELIEF)
    else:
        state.annoyance += MESSAGE_ANNOYANCE / 3
