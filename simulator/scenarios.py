"""Kinds of business the simulator can play, beside the default mixed shop-and-subscription one.

- ``default``: what ``Simulator`` always did (the same seed gives the same bytes as before).
- ``product``: a subscription product whose churn depends on which product features a customer
  uses. Each customer has adopted some of ``PRODUCT_FEATURES``; adopted features appear in the
  daily ``product.usage`` ``feature_counts`` (each session uses a feature with the customer's own
  propensity); each feature in use lowers the churn hazard by its own effect (integrations and
  sharing tie a team to the product, search hardly matters). Customers drop features now and
  then (likelier after bad experiences), and occasionally adopt one: a dropped sticky feature
  raises the hazard at once, so "which features they stopped using" carries the signal.
- ``shop``: a retail shop with orders and checkouts only: no plans, no subscriptions, no usage
  events. Disengaging customers simply buy less, then stop.

Scenario traits are drawn from their own random stream per customer, so the default scenario's
draws, and therefore its output, are untouched.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

SCENARIOS = ("default", "product", "shop")

# name -> (share of customers who use it at the start, log-hazard relief while in use)
PRODUCT_FEATURES: dict[str, tuple[float, float]] = {
    "reports": (0.60, 0.35),
    "search": (0.70, 0.05),
    "export": (0.30, 0.25),
    "integrations": (0.18, 0.95),
    "alerts": (0.35, 0.45),
    "sharing": (0.25, 0.65),
    "api": (0.10, 0.80),
}
# exp(MEAN_RELIEF - relief): the average customer keeps the default scenario's churn level.
MEAN_RELIEF = sum(share * effect for share, effect in PRODUCT_FEATURES.values())
DROP_PER_DAY = 0.004  # chance a feature in use is dropped on a given day (times 1 + badness)
ADOPT_PER_DAY = 0.0015  # chance an unused feature is picked up on a given day


@dataclass
class ProductUse:
    """Which product features a customer uses now, and how often per session."""

    propensity: dict[str, float] = field(default_factory=dict)  # feature -> share of sessions; absent = not used

    def relief(self) -> float:
        """Log-hazard relief from the features in use."""
        return sum(PRODUCT_FEATURES[name][1] for name in self.propensity)

    def hazard_factor(self) -> float:
        """Multiplier on the daily churn hazard (1 for the average mix of features)."""
        return math.exp(MEAN_RELIEF - self.relief())


def product_use(rng: random.Random) -> ProductUse:
    """A customer's starting feature mix (from the scenario's own random stream)."""
    use = ProductUse()
    for name, (share, _) in PRODUCT_FEATURES.items():
        if rng.random() < share:
            use.propensity[name] = rng.uniform(0.15, 0.8)
    return use


def evolve(use: ProductUse, rng: random.Random, badness: float) -> None:
    """One day of dropping and adopting features."""
    for name in PRODUCT_FEATURES:
        if name in use.propensity:
            if rng.random() < DROP_PER_DAY * (1.0 + badness):
                del use.propensity[name]
        elif rng.random() < ADOPT_PER_DAY:
            use.propensity[name] = rng.uniform(0.15, 0.5)


def feature_counts(use: ProductUse, rng: random.Random, sessions: int) -> dict[str, Any]:
    """``feature_counts`` of a day with ``sessions`` sessions: the dashboard in every session."""
    counts: dict[str, Any] = {"dashboard": sessions}
    for name, p in use.propensity.items():
        used = sum(1 for _ in range(sessions) if rng.random() < p)
        if used:
            counts[name] = used
    return counts


def hazard_factor(extras: dict[str, Any]) -> float:
    """The scenario's multiplier on a customer's churn hazard, from the customer's ``extras`` (1 outside ``product``)."""
    use = extras.get("product_use")
    return use.hazard_factor() if isinstance(use, ProductUse) else 1.0
