"""How much of the simulator's oracle AUC any model of events can reach, measured in the same run.

    .venv/bin/python bench/bench_oracle_ceiling.py [--customers 3000 --days 150 --scenario default]

The oracle (``true_probability``) knows two per-customer traits that no event reveals: a
log-normal spread of the base churn hazard around what plan and tenure imply, and a log-normal
sensitivity to bad experiences. This prints the AUC of the oracle and of the same computation
with those two traits at their population means (everything else still exact: the latent
experience scores, the disengagement state, the product features in use), on the same rows.
Their ratio bounds ``auc / oracle_auc`` for a model that sees only events, before any noise in
how events show the latent state.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from simulator import hazard, scenarios
from simulator.behaviour import CustomerLife
from simulator.engine import Simulator
from simulator.population import BASE_NOISE, SENSITIVITY_NOISE, observable_base_hazard


class TraitFreeOracle(Simulator):
    """A simulator that also records the oracle with the hidden traits at their means."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.trait_free: list[float] = []
        super().__init__(*args, **kwargs)

    def _projected_probability(self, life: CustomerLife, state: hazard.HazardState, horizon_days: int) -> float:
        c = life.customer
        tenure = (self.start - c.signed_up_at).total_seconds() / 86400
        plan = None if c.extras.get("shop") else c.plan
        base = observable_base_hazard(plan, tenure) * math.exp(BASE_NOISE ** 2 / 2) * scenarios.hazard_factor(life.customer.extras)
        checkouts = c.order_rate / c.checkout_completion
        self.trait_free.append(hazard.churn_probability(
            base, math.exp(SENSITIVITY_NOISE ** 2 / 2), state, horizon_days, late_rate=c.order_rate * 0.16,
            abandon_rate=checkouts * (1 - c.checkout_completion), declining=life.decline_floor is not None))
        return Simulator._projected_probability(life, state, horizon_days)


def main() -> None:
    """Simulate, then print both AUCs and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="default", choices=scenarios.SCENARIOS)
    args = parser.parse_args()
    sim = TraitFreeOracle(args.customers, args.days, seed=args.seed, scenario=args.scenario)
    with tqdm(total=args.days, unit="day", desc="simulating") as bar:
        for _ in sim.run(progress=bar):
            pass
    rows = sim.labels()
    y = np.array([r["churned"] for r in rows])
    oracle = roc_auc_score(y, [r["true_probability"] for r in rows])
    trait_free = roc_auc_score(y, sim.trait_free)
    print(f"{args.scenario}: {len(y):,} rows, churn rate {y.mean():.3f}")
    print(f"oracle AUC (baseline) {oracle:.4f}; hidden traits at their means {trait_free:.4f}; "
          f"ratio {trait_free / oracle:.3f} (the most auc / oracle_auc a model of events can reach)")


if __name__ == "__main__":
    main()
