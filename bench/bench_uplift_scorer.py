"""Uplift scoring latency and batch throughput beside the churn scorer, measured in the same run.

    .venv/bin/python bench/bench_uplift_scorer.py [--customers 1500] [--days 120] [--rows 200000]

Simulates an uplift table (``models.uplift_simulated``), trains the uplift T-learner and, on the
same rows, the churn model; then times one-customer scoring (p50, no drivers) and batch scoring
of each. The baseline is the churn ``Scorer`` (the 50 us p50 target applies to both).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench_scorer import p50_us  # the same timing loop as the churn bench (run from the repo root)
from models.scorer import Scorer
from models.train import Splits, TrainConfig, fit_booster
from models.uplift import ScorerWithUplift, UpliftScorer, fit_uplift, split_by_customer
from models.uplift_simulated import simulated_uplift


def main() -> None:
    """Train both models on simulated rows, time them, print latencies and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the batch measurement")
    parser.add_argument("--single", type=int, default=3000, help="rows for the one-customer latencies")
    args = parser.parse_args()

    data = simulated_uplift(args.customers, args.days, seed=0)
    table, names, cats = data.table, data.feature_names, data.categorical
    uplift_model = fit_uplift(table, names, categorical=cats)
    rest, calib = split_by_customer(table, 0.25, salt="bench")
    churn_model = fit_booster(Splits(rest, rest.iloc[:0], calib, calib.iloc[:0]), "label", names, cats,
                              TrainConfig(), group_column="customer_id")
    churn = Scorer(churn_model.booster, churn_model.calibrator, churn_model.feature_names)
    uplift = UpliftScorer(uplift_model)
    both = ScorerWithUplift(churn, uplift)
    matrix = churn_model.encode(table)
    rows = [matrix[i % len(matrix)].tolist() for i in range(args.single)]
    trees = (churn_model.booster.num_trees(), uplift_model.treated.booster.num_trees(),
             uplift_model.control.booster.num_trees())
    print(f"{len(table):,} simulated rows, {len(names)} features; trees: churn {trees[0]}, "
          f"uplift treated {trees[1]} + control {trees[2]}")

    base = p50_us(lambda r: churn.score(r, drivers=False), rows, "churn scorer")
    up = p50_us(uplift.uplift, rows, "uplift scorer")
    served = p50_us(lambda r: (both.score(r, drivers=False), both.uplift_points(r)), rows, "churn + uplift")

    big = matrix[np.arange(args.rows) % len(matrix)]
    start = time.perf_counter()
    churn.score_batch(big)
    churn_rate = args.rows / (time.perf_counter() - start)
    start = time.perf_counter()
    uplift.uplift_batch(big)
    uplift_rate = args.rows / (time.perf_counter() - start)

    print(f"{'one customer, p50 (no drivers)':<40}{'us':>10}{'x churn scorer':>18}")
    print(f"{'churn Scorer.score (baseline)':<40}{base:>10.1f}{1.0:>18.2f}")
    print(f"{'UpliftScorer.uplift':<40}{up:>10.1f}{up / base:>18.2f}")
    print(f"{'churn + uplift (what rules see)':<40}{served:>10.1f}{served / base:>18.2f}")
    print(f"batch of {args.rows:,}: uplift {uplift_rate:,.0f} rows/s, churn {churn_rate:,.0f} rows/s "
          f"(ratio {uplift_rate / churn_rate:.2f})")
    print(f"target: one customer <= 50 us p50 -> uplift {'met' if up <= 50 else 'MISSED'}, "
          f"churn + uplift {'met' if served <= 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
