"""Scorer latency and throughput beside plain ``Booster.predict``, measured in the same run.

    .venv/bin/python bench/bench_scorer.py [--rows 200000]

Trains the Telco model, then times one-customer scoring (p50 over many rows, with and without
drivers) and batch scoring, each next to LightGBM's own predict on the same input.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

from models import telco
from models.scorer import Scorer
from models.train import fit


def p50_us(fn, rows, desc):
    """Median wall time of ``fn(row)`` in microseconds."""
    times = np.empty(len(rows))
    for i, row in enumerate(tqdm(rows, desc=desc, leave=False)):
        start = time.perf_counter_ns()
        fn(row)
        times[i] = time.perf_counter_ns() - start
    return float(np.median(times)) / 1000


def main() -> None:
    """Train on Telco, time single and batch scoring, print latencies and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the batch measurement")
    parser.add_argument("--single", type=int, default=3000, help="rows for the one-customer latencies")
    args = parser.parse_args()

    train, test = telco.load_telco()
    model = fit(train, telco.LABEL, feature_names=telco.FEATURES, categorical=telco.CATEGORICAL, test=test).model
    scorer = Scorer(model.booster, model.calibrator, model.feature_names)
    matrix = model.encode(test)
    rows = [matrix[i % len(matrix)].tolist() for i in range(args.single)]
    numpy_rows = [matrix[i % len(matrix)].reshape(1, -1) for i in range(args.single)]
    frame_rows = [test.iloc[[i % len(test)]] for i in range(min(args.single, 300))]
    booster, cal = model.booster, model.calibrator
    print(f"model: {booster.num_trees()} trees, {len(model.feature_names)} features")

    lgb_numpy = p50_us(lambda r: cal.apply(booster.predict(r, raw_score=True)), numpy_rows, "lgb numpy row")
    lgb_frame = p50_us(lambda f: model.predict(f), frame_rows, "lgb pandas row")
    fast = p50_us(lambda r: scorer.score(r, drivers=False), rows, "scorer")
    drivers = p50_us(lambda r: scorer.score(r), rows, "scorer+drivers")
    contrib = p50_us(lambda r: booster.predict(r, pred_contrib=True), numpy_rows, "lgb pred_contrib")

    big = matrix[np.arange(args.rows) % len(matrix)]
    start = time.perf_counter()
    booster.predict(big, raw_score=True)
    lgb_rate = args.rows / (time.perf_counter() - start)
    start = time.perf_counter()
    scorer.score_batch(big)
    batch_rate = args.rows / (time.perf_counter() - start)

    print(f"{'one customer, p50':<40}{'us':>10}{'x vs lgb numpy row':>22}")
    print(f"{'Booster.predict, pandas row (pipeline)':<40}{lgb_frame:>10.1f}{lgb_numpy / lgb_frame:>22.3f}")
    print(f"{'Booster.predict, numpy row (baseline)':<40}{lgb_numpy:>10.1f}{1.0:>22.2f}")
    print(f"{'Booster.predict pred_contrib, numpy row':<40}{contrib:>10.1f}{lgb_numpy / contrib:>22.2f}")
    print(f"{'Scorer.score (no drivers)':<40}{fast:>10.1f}{lgb_numpy / fast:>22.2f}")
    print(f"{'Scorer.score (with drivers)':<40}{drivers:>10.1f}{lgb_numpy / drivers:>22.2f}")
    print(f"batch of {args.rows}: Scorer.score_batch {batch_rate:,.0f} rows/s, "
          f"Booster.predict {lgb_rate:,.0f} rows/s (ratio {batch_rate / lgb_rate:.2f})")


if __name__ == "__main__":
    main()
