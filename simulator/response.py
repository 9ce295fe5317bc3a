"""How a customer responds to a retention message: the four classic uplift types.

- ``persuadable``: a helpful message lowers their churn hazard (goodwill, ``hazard.MESSAGE_RELIEF``);
- ``sure_thing`` and ``lost_cause``: the message changes nothing that matters (they stay, or they
  leave, whatever we send); they are only mildly annoyed, as every non-persuadable customer was;
- ``sleeping_dog``: being contacted reminds them of a subscription they had stopped thinking
  about: the message RAISES their hazard (``SLEEPING_DOG_ANNOYANCE``).

The type is drawn per customer from its own random stream (``population.customer_rng(..., "response")``),
so the population's other draws, and therefore every simulated event, stay byte-identical. It is
correlated with what the events show (plan, tenure, how much the product is used) but it is not
risk: new free customers are likelier lost causes, long-tenured light users likelier sleeping
dogs, engaged paying customers of middling tenure likelier persuadable. Shares over a default
population: about 35 % persuadable (the share the reaction rates in ``hazard`` are calibrated to),
30 % sure things, 20 % lost causes, 15 % sleeping dogs.
"""

from __future__ import annotations

import random

PERSUADABLE = "persuadable"
SURE_THING = "sure_thing"
LOST_CAUSE = "lost_cause"
SLEEPING_DOG = "sleeping_dog"
RESPONSE_TYPES: tuple[str, ...] = (PERSUADABLE, SURE_THING, LOST_CAUSE, SLEEPING_DOG)

# Hazard score a sleeping dog gains from one message (on the annoyance scale, half-life 21 days):
# with sensitivity ~1 it multiplies the daily hazard by ~e^0.8 ~ 2.2 right after the message (and makes
# disengaging likelier), a little more harm on average than a persuadable customer gains.
SLEEPING_DOG_ANNOYANCE = 0.8


BASE_SHARES = {PERSUADABLE: 0.35, SURE_THING: 0.30, LOST_CAUSE: 0.20, SLEEPING_DOG: 0.15}
# How much of the type the observable profile decides; the rest is drawn at the base shares.
PROFILE_WEIGHT = 0.75


def profile_type(plan: str | None, tenure_days: float, usage_baseline: float) -> str:
    """The response type a customer's observable profile points to."""
    if tenure_days >= 365 and usage_baseline < 3.0:
        return SLEEPING_DOG  # long-tenured light users: a message reminds them what they pay for
    if usage_baseline >= 6.0 or plan == "pro":
        return SURE_THING  # heavy users and pro customers stay whatever we send
    if tenure_days < 90 and plan == "free":
        return LOST_CAUSE  # new free customers: high risk, and a message does not change it
    return PERSUADABLE


def response_weights(plan: str | None, tenure_days: float, usage_baseline: float) -> dict[str, float]:
    """The probability of each response type for what upstream can observe about a customer."""
    pointed = profile_type(plan, tenure_days, usage_baseline)
    return {kind: (1 - PROFILE_WEIGHT) * share + (PROFILE_WEIGHT if kind == pointed else 0.0)
            for kind, share in BASE_SHARES.items()}


def draw_response_type(rng: random.Random, plan: str | None, tenure_days: float, usage_baseline: float) -> str:
    """One customer's response type drawn with ``response_weights``."""
    weights = response_weights(plan, tenure_days, usage_baseline)
    return rng.choices(RESPONSE_TYPES, weights=[weights[t] for t in RESPONSE_TYPES])[0]
