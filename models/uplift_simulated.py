"""An uplift table from the simulator: a randomised message at every observation, honest outcomes.

The simulator knows, per observation, the churn probability without a message
(``true_probability``), had one message reached the customer then (``true_probability_if_messaged``),
and whether the customer actually churned (without messages). Each row is assigned to the
messaged arm by a deterministic coin (like a rule's holdout). A held-out row's outcome is the
realised one; a messaged row's outcome is coupled to it so its marginal is exactly the messaged
probability and it differs from the realised one only where the message changes the outcome:

- message helps (p_m <= p): churned under the message iff churned anyway and u < p_m / p;
- message harms (p_m > p): churned under the message iff churned anyway or u < (p_m - p) / (1 - p).

``outcome`` is 1 when the customer stays (the good outcome) and ``true_effect`` is then exactly
the uplift a perfect model would predict.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.uplift import OUTCOME, TREATED, in_share


@dataclass
class SimulatedUplift:
    """The uplift table plus what the model needs to know about it."""

    table: pd.DataFrame
    feature_names: list[str]
    categorical: list[str]
    source: dict


def messaged_churn(churned: bool, p: float, p_messaged: float, u: float) -> bool:
    """Whether the customer churns had they been messaged (the coupling in the module docstring)."""
    if p_messaged <= p:
        return churned and (p <= 0 or u < p_messaged / p)
    return churned or u < (p_messaged - p) / max(1e-12, 1 - p)


def assign(table: pd.DataFrame, seed: int, treated_share: float = 0.5) -> pd.DataFrame:
    """Add ``treated`` and ``outcome`` (1 = retained) to a simulated table with its ground truth."""
    out = table.copy()
    keys = out["customer_id"].astype(str) + "@" + out["observed_at"].astype(str)
    out[TREATED] = [int(in_share(k, treated_share, f"uplift-sim-{seed}")) for k in keys]
    rng = random.Random(f"retain-uplift:{seed}")
    churned = []
    for flag, label, p, p_m in zip(out[TREATED], out["label"], out["true_probability"],
                                   out["true_probability_if_messaged"]):
        u = rng.random()  # drawn for every row so a row's draw does not depend on the arms of others
        churned.append(messaged_churn(bool(label), p, p_m, u) if flag else bool(label))
    out[OUTCOME] = 1 - np.asarray(churned, dtype=int)
    return out


def simulated_uplift(customers: int = 3000, days: int = 150, seed: int = 0, *, treated_share: float = 0.5,
                     progress: bool = True) -> SimulatedUplift:
    """Simulate, build features at the observation dates, randomise a message and draw outcomes."""
    from models.simulated import simulated_dataset

    data = simulated_dataset(customers, days, seed, progress=progress)
    if "true_effect" not in data.table:
        raise ValueError("the simulator's labels lack the true effect of a message")
    table = assign(data.table, seed, treated_share)
    source = {"simulator": "default", "customers": customers, "days": days, "seed": seed,
              "treated_share": treated_share}
    return SimulatedUplift(table, list(data.spec.FEATURE_NAMES), list(data.spec.CATEGORICAL_FEATURES), source)
