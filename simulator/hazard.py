"""The latent churn hazard: pure functions over a customer's experience scores.

A customer's daily churn hazard is ``base * exp(sensitivity * badness - relief)`` where badness
sums exponentially decaying scores of bad experiences (late shipments, abandoned checkouts,
annoyance) plus the current usage-decline level, and relief is the decaying goodwill a helpful
message leaves with a persuadable customer. Time is in days since the simulation start.

How customers react to a message (``reaction_weights``) is calibrated per delivered message to
published industry rates; averaged over the population (35 % persuadable) it gives:

- e-mail unsubscribes 0.2 % (published: 0.1-0.3 %; GDMA Email Benchmark 2024, global average
  0.14 %; LINK Mobility, "Benchmark for Email Marketing Unsubscribe Rate": retail 0.2-0.4 %);
- spam complaints 0.02 % of e-mails (published: 0.01-0.05 %; GetResponse benchmarks: average
  0.02 %; Google and Yahoo's 2024 bulk-sender rules ask for under 0.1 %, never 0.3 %);
- SMS opt-outs 2 % of texts (published: 1-3 % per campaign; Burst SMS platform averages 2.3 %
  (2015) and 2.55 % (2017); Tatango on 1,180 retail campaigns: 1.8 % on weekdays);
- a purchase (the goal of a cart reminder) after 3.9 % of idle-cart messages (published: 2.4-5.2 %
  order rate of abandoned-cart e-mails: Omnisend via Statista 2.39 %, SalesLion 2.6-5.2 % by
  delay), about 1.3 % after a win-back and under 1 % after a late-parcel notice (win-back
  e-mails: 1-2 % click rate, emailmarketingskill.com benchmarks); persuadable customers buy
  several times more often and object half as often as the rest;
- a usage-drop check-in also brings a persuadable customer's usage back (``Simulator.deliver_message``).

A message its recipient did not want at all (the demo's deliberately injected blast) is an
assumption, not a benchmark: one in 25 reports it as spam, one in 12 unsubscribes, one in 7
texts STOP, orders of magnitude above the rates above, so the reputation guard must catch it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from simulator import response

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


# Objections per delivered message by channel (population averages; see the module docstring).
# A texting customer has no unsubscribe link or spam button: STOP says all three.
OBJECTIONS: dict[str, dict[Reaction, float]] = {
    "email": {Reaction.UNSUBSCRIBED: 0.002, Reaction.COMPLAINED: 0.0002},
    "sms": {Reaction.REPLIED_STOP: 0.02},
}
# Persuadable customers (35 %) object half as often; the rest so that the average is the published rate.
OBJECTION_FACTOR: dict[bool, float] = {True: 0.5, False: 1.27}
# A purchase after a message, by signal and persuadability (cart reminders convert best).
PURCHASE: dict[str, dict[bool, float]] = {
    "checkout_idle": {True: 0.09, False: 0.012},
    "usage_drop": {True: 0.03, False: 0.004},
    "shipping_delay": {True: 0.015, False: 0.003},
}
DEFAULT_PURCHASE: dict[bool, float] = {True: 0.02, False: 0.003}
# A message the recipient did not want (an assumption for the demo's injected bad rule).
UNWANTED: dict[str, dict[Reaction, float]] = {
    "email": {Reaction.COMPLAINED: 0.04, Reaction.UNSUBSCRIBED: 0.08, Reaction.PURCHASED: 0.002},
    "sms": {Reaction.REPLIED_STOP: 0.15, Reaction.PURCHASED: 0.002},
}


def reaction_weights(persuadable: bool, *, channel: str = "email", kind: str = "",
                     unwanted: bool = False) -> dict[Reaction, float]:
    """The probability of each reaction to one delivered message (they sum to 1)."""
    if unwanted:
        weights = dict(UNWANTED.get(channel, UNWANTED["email"]))
    else:
        factor = OBJECTION_FACTOR[persuadable]
        weights = {reaction: p * factor for reaction, p in OBJECTIONS.get(channel, OBJECTIONS["email"]).items()}
        weights[Reaction.PURCHASED] = PURCHASE.get(kind, DEFAULT_PURCHASE)[persuadable]
    weights[Reaction.IGNORED] = 1.0 - sum(weights.values())
    return weights


def choose_reaction(persuadable: bool, u: float, *, channel: str = "email", kind: str = "",
                    unwanted: bool = False) -> Reaction:
    """The reaction that the uniform draw ``u`` in [0, 1) selects (rare reactions first, then ignoring)."""
    acc = 0.0
    weights = reaction_weights(persuadable, channel=channel, kind=kind, unwanted=unwanted)
    for reaction in (Reaction.PURCHASED, Reaction.REPLIED_STOP, Reaction.UNSUBSCRIBED, Reaction.COMPLAINED):
        acc += weights.get(reaction, 0.0)
        if u < acc:
            return reaction
    return Reaction.IGNORED


def apply_message(state: HazardState, response_type: str, reaction: Reaction) -> None:
    """Update scores after a message by the customer's ``simulator.response`` type.

    Objectors are annoyed whoever they are; otherwise the persuadable gain goodwill, sleeping dogs
    are woken (a large annoyance), sure things and lost causes are mildly annoyed.
    """
    if reaction in (Reaction.REPLIED_STOP, Reaction.UNSUBSCRIBED, Reaction.COMPLAINED):
        state.annoyance += MESSAGE_ANNOYANCE * (3 if reaction is Reaction.COMPLAINED else 1)
        return
    if response_type == response.PERSUADABLE:
        state.relief = min(MAX_RELIEF, state.relief + MESSAGE_RELIEF)
    elif response_type == response.SLEEPING_DOG:
        state.annoyance += response.SLEEPING_DOG_ANNOYANCE
    else:
        state.annoyance += MESSAGE_ANNOYANCE / 3
