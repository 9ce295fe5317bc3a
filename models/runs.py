"""Ready-made training runs on the project's datasets (Telco, the simulator, a saved table).

Each returns a ``Run``: the fit (model, baseline, reports), the training-data fingerprint and a
description of the data, ready for the registry, the CLI and the notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import roc_auc_score

from models import telco
from signals import features
from models.dataset import fingerprint
from models.train import FitResult, TrainConfig, fit


@dataclass
class Run:
    """One training run and what it was trained on."""

    result: FitResult
    fingerprint: str
    dataset: dict[str, Any]
    extra_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        """Flat metrics (model, baseline, sizes, extras) for printing as JSON."""
        return {"dataset": self.dataset["name"], **self.result.summary, **self.extra_metrics}


def run_telco(config: TrainConfig = TrainConfig()) -> Run:
    """Telco as shipped: fit on ``train.csv`` (train/valid/calib), report on ``test.csv``."""
    train, test = telco.load_telco()
    result = fit(train, telco.LABEL, feature_names=telco.FEATURES, categorical=telco.CATEGORICAL,
                 test=test, config=config)
    info = {"name": "telco", "source": str(telco.dataset_dir()), "label": "churn (Yes)"}
    return Run(result, fingerprint(pd.concat([train, test])), info)


def run_simulated(customers: int = 2000, days: int = 150, seed: int = 0, *,
                  config: TrainConfig = TrainConfig(), progress: bool = True) -> Run:
    """The simulator's events -> features -> LightGBM; also the oracle's AUC on the test rows."""
    from models.simulated import simulated_dataset

    data = simulated_dataset(customers, days, seed, progress=progress)
    result = fit(data.table, "label", feature_names=features.FEATURE_NAMES, categorical=features.CATEGORICAL_FEATURES,
                 time_column="observed_at", group_column="customer_id",
                 embargo=pd.Timedelta(days=data.label.horizon_days), config=config)
    test = result.splits.test
    oracle = float(roc_auc_score(test["label"], test["true_probability"])) if test["label"].nunique() == 2 else float("nan")
    info = {"name": "simulated", "customers": customers, "days": days, "seed": seed,
            "label": f"churn within {data.label.horizon_days:g} days (simulator ground truth)",
            "events": len(data.events), "rejected_events": data.rejected}
    return Run(result, fingerprint(data.table), info, {"oracle_auc": oracle})


def run_table(path: str | Path, *, label: str = "label", time_column: str | None = "observed_at",
              group_column: str | None = "customer_id", horizon_days: float | None = None,
              config: TrainConfig = TrainConfig()) -> Run:
    """Any saved feature table (Parquet or CSV); event-feature tables use the feature spec's columns."""
    path = Path(path)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    time_column = time_column if time_column in table else None
    group_column = group_column if group_column in table else None
    names = [c for c in features.FEATURE_NAMES if c in table]
    spec_table = len(names) == len(features.FEATURE_NAMES)
    embargo = pd.Timedelta(days=horizon_days) if horizon_days and time_column else None
    result = fit(table, label, feature_names=names if spec_table else None,
                 categorical=features.CATEGORICAL_FEATURES if spec_table else (),
                 time_column=time_column, group_column=group_column, embargo=embargo, config=config)
    return Run(result, fingerprint(table), {"name": path.name, "source": str(path), "label": label})
