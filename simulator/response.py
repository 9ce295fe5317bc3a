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
# with sensitivity ~1 it multiplies the daily hazard by ~e^0.5 ~ 1.6 right after the message (and makes
# disengaging likelier), about as much harm on average as a persuadable customer gains.
SLEEPING_DOG_ANNOYANCE = 0.5


def response_weights(plan: str | None, tenure_days: float, usage_baseline: float) -> dict[str, float]:
    """Relative odds of each response type for what upstream can observe about a customer."""
    new = tenure_days < 90
    long_tenured = tenure_days >= 365
    light_user = usage_baseline < 3.0
    heavy_user = usage_baseline >= 6.0
    weights = {PERSUADABLE: 0.35, SURE_THING: 0.30, LOST_CAUSE: 0.20, SLEEPING_DOG: 0.15}
    if new:
        weights[LOST_CAUSE] *= 1.8
        weights[SLEEPING_DOG] *= 0.4
    if long_tenured and light_user:
        weights[SLEEPING_DOG] *= 3.0
        weights[PERSUADABLE] *= 0.6
    if heavy_user:
        weights[SURE_THING] *= 1.6
        weights[SLEEPING_DOG] *= 0.5
    if plan == "basic" and not new:
        weights[PERSUADABLE] *= 1.5
    if plan == "free":
        weights[LOST_CAUSE] *= 1.4
    if plan == "pro":
        weights[SURE_THING] *= 1.4
    return weights


def draw_response_type(rng: random.Random, plan: str | None, tenure_days: float, usage_baseline: float) -> str:
    """One customer's response type drawn with ``response_weights``."""
    weights = response_weights(plan, tenure_days, usage_baseline)
    return rng.choices(RESPONSE_TYPES, weights=[weights[t] for t in RESPONSE_TYPES])[0]
