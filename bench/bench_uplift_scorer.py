"""Uplift scoring latency and batch throughput beside the churn scorer, measured in the same run.

    PYTHONPATH=. .venv/bin/python bench/bench_uplift_scorer.py [--customers 1500] [--rows 200000]

Simulates customers with the default simulator, trains the churn model and the uplift T-learner
on the same table, then times one-customer scoring (p50; no drivers, as the decision stage asks
for uplift) and batch scoring. The churn ``Scorer`` is the baseline: the uplift scorer walks two
arms' compiled trees, so about twice its cost is expected; the served pair
(``ScorerWithUplift``: risk then uplift, what a decision costs) is timed too. Target: one
customer's uplift <= 50 us p50, like the churn scorer.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from models.scorer import Scorer
from models.train import Splits, TrainConfig, fit_booster
from models.uplift import ScorerWithUplift, UpliftScorer, fit_uplift, split_by_customer
from models.uplift_simulated import simulated_uplift

from bench_scorer import p50_us  # the churn bench's timer (bench/ is on sys.path when run as a script)


def rows_per_second(fn, matrix) -> float:
    """Rows of ``matrix`` scored per second by one ``fn(matrix)`` call."""
    start = time.perf_counter()
    fn(matrix)
    return len(matrix) / (time.perf_counter() - start)


def main() -> None:
    """Train both models on one simulated table, time single and batch scoring, print ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1500, help="simulated customers")
    parser.add_argument("--days", type=int, default=120, help="simulated days")
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the batch measurement")
    parser.add_argument("--single", type=int, default=3000, help="rows for the one-customer latencies")
    args = parser.parse_args()

    data = simulated_uplift(args.customers, args.days, seed=0, progress=True)
    table, names, cats = data.table, data.feature_names, data.categorical
    uplift_model = fit_uplift(table, names, categorical=cats)
    rest, calib = split_by_customer(table, 0.25, salt="bench-churn-calib")
    churn_model = fit_booster(Splits(rest, rest.iloc[:0], calib, calib.iloc[:0]), "label", list(names),
                              list(cats), TrainConfig(), group_column="customer_id")
    churn = Scorer(churn_model.booster, churn_model.calibrator, churn_model.feature_names)
    uplift = UpliftScorer(uplift_model)
    served = ScorerWithUplift(churn, uplift)
    matrix = churn_model.encode(table)
    print(f"churn model: {churn_model.booster.num_trees()} trees; uplift arms: "
          f"{uplift_model.treated.booster.num_trees()} + {uplift_model.control.booster.num_trees()} trees; "
          f"{len(names)} features, {len(table):,} training rows")

    rows = [matrix[i % len(matrix)].tolist() for i in range(args.single)]
    base = p50_us(lambda r: churn.score(r, drivers=False), rows, "churn scorer")
    alone = p50_us(uplift.uplift, rows, "uplift scorer")
    both = p50_us(lambda r: (served.score(r, drivers=False), served.uplift_points(r)), rows, "churn + uplift")

    big = matrix[np.arange(args.rows) % len(matrix)]
    churn_rate = rows_per_second(churn.score_batch, big)
    uplift_rate = rows_per_second(uplift.uplift_batch, big)

    print(f"{'one customer, p50 (no drivers)':<42}{'us':>10}{'x churn scorer time':>22}")
    print(f"{'churn Scorer.score (baseline)':<42}{base:>10.1f}{1.0:>22.2f}")
    print(f"{'UpliftScorer.uplift':<42}{alone:>10.1f}{alone / base:>22.2f}")
    print(f"{'ScorerWithUplift: score + uplift_points':<42}{both:>10.1f}{both / base:>22.2f}")
    print(f"batch of {args.rows}: uplift_batch {uplift_rate:,.0f} rows/s, churn score_batch {churn_rate:,.0f} rows/s "
          f"(ratio {uplift_rate / churn_rate:.2f})")
    print(f"uplift one-customer p50 within the 50 us target: {'yes' if alone <= 50 else 'NO'}")


if __name__ == "__main__":
    main()
