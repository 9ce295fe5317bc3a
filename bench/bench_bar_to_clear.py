"""The bar to clear, measured in one run: LightGBM against the same-run logistic baseline on Telco,
the simulator (with the oracle), a simulated subscription product and a simulated orders-only shop.

    .venv/bin/python bench/bench_bar_to_clear.py [--customers 8000 --days 180 --folds 3 --time-budget 120]

Each dataset goes through the same run as ``retain model evaluate --dataset NAME --json`` (tuning
within the time budget, rolling-origin folds for the simulated ones) and prints that JSON on one
line; then a table: AUC and Brier beside the baseline's, the customer-bootstrap 95 % interval of
the AUC difference and what it says, ``oracle_ratio`` where there is an oracle, and whether the
bar is cleared.
"""

from __future__ import annotations

import argparse
import json
import time

from models import runs
from models.cli_output import json_ready
from models.train import TrainConfig


def main() -> None:
    """Run the four evaluations and print their JSON and a summary table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--time-budget", type=float, default=120.0)
    args = parser.parse_args()
    config = TrainConfig(tune_seconds=args.time_budget)
    rows = []
    for name in ("telco", "simulated", "simulated-product", "simulated-shop"):
        started = time.perf_counter()
        if name == "telco":
            run = runs.run_telco(config)
        else:
            scenario = {"simulated": "default", "simulated-product": "product", "simulated-shop": "shop"}[name]
            run = runs.run_simulated(args.customers, args.days, args.seed, scenario=scenario, config=config,
                                     folds=args.folds)
        summary = json_ready(run.summary)
        summary["seconds"] = round(time.perf_counter() - started)
        print(json.dumps(summary), flush=True)
        rows.append(summary)
    print(f"\n{'dataset':<19}{'auc':>8}{'base':>8}{'brier':>8}{'base':>8}  {'auc diff 95 % interval':<24}"
          f"{'oracle':>8}{'ratio':>7}  cleared  verdict")
    for s in rows:
        low, high = s["auc_diff_ci"]
        oracle = f"{s['oracle_auc']:>8.4f}{s['oracle_ratio']:>7.3f}" if "oracle_auc" in s else f"{'':>8}{'':>7}"
        print(f"{s['dataset']:<19}{s['auc']:>8.4f}{s['baseline_auc']:>8.4f}{s['brier']:>8.4f}{s['baseline_brier']:>8.4f}"
              f"  {low:+.4f} .. {high:+.4f}     {oracle}  {str(s['bar']['cleared']):<7}  {s['verdict']}")


if __name__ == "__main__":
    main()
