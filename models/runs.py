"""Ready-made training runs on the project's datasets (Telco, the simulator, a saved table).

Each returns a ``Run``: the fit to store (the latest fold's, for tables over time), the rolling
evaluation when there is one, the training-data fingerprint and a description of the data,
ready for the registry, the CLI and the notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from models import evaluate, telco
from models.dataset import fingerprint
from models.table_file import read_table
from models.train import FitResult, TrainConfig, fit
from models.validation import RollingEvaluation, rolling_evaluate


@dataclass
class Run:
    """One training run and what it was trained on."""

    result: FitResult
    fingerprint: str
    dataset: dict[str, Any]
    evaluation: RollingEvaluation | None = None
    extra_metrics: dict[str, Any] = field(default_factory=dict)
    feature_spec: dict[str, Any] | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """Flat metrics (model, baseline, comparison, bar, sizes, folds) for printing as JSON."""
        body = self.evaluation.summary if self.evaluation is not None else holdout_summary(self.result)
        return {"dataset": self.dataset["name"], **body, **self.extra_metrics}


def holdout_summary(result: FitResult, groups: Any = None, n_boot: int = 1000) -> dict[str, Any]:
    """A single test slice's summary with the bootstrap comparison and the bar to clear."""
    out = dict(result.summary)
    if result.test_predictions is not None:
        p_model, p_base = result.test_predictions
        y = result.splits.test[result.label].to_numpy()
        out.update(evaluate.paired_difference(y, p_model, p_base, groups, n_boot=n_boot))
    bar = {"auc_above_baseline": out["auc"] > out["baseline_auc"], "brier_not_worse": out["brier"] <= out["baseline_brier"]}
    out["bar"] = {**bar, "cleared": all(bar.values())}
    out["tuning"] = {k: v for k, v in result.model.tuning.items() if k != "trial_log"}
    return out


def run_telco(config: TrainConfig = TrainConfig()) -> Run:
    """Telco as shipped: fit on ``train.csv`` (train/valid/calib), report on ``test.csv``."""
    train, test = telco.load_telco()
    result = fit(train, telco.LABEL, feature_names=telco.FEATURES, categorical=telco.CATEGORICAL,
                 test=test, config=config)
    info = {"name": "telco", "source": str(telco.dataset_dir()), "label": "churn (Yes)"}
    return Run(result, fingerprint(pd.concat([train, test])), info)


def run_simulated(customers: int = 2000, days: int = 150, seed: int = 0, *, scenario: str = "default",
                  config: TrainConfig = TrainConfig(), folds: int = 3, test_dates: Sequence[Any] | None = None,
                  test_from: Any = None, spec: Any = None, progress: bool = True) -> Run:
    """The simulator's events -> features -> rolling evaluation, with the oracle's AUC on the same rows."""
    from models.simulated import DATASETS, simulated_dataset

    data = simulated_dataset(customers, days, seed, scenario=scenario, spec=spec, progress=progress)
    evaluation = rolling_evaluate(
        data.table, "label", horizon_days=data.label.horizon_days, feature_names=data.spec.FEATURE_NAMES,
        categorical=data.spec.CATEGORICAL_FEATURES, test_dates=test_dates, test_from=test_from, folds=folds,
        config=config, oracle_column="true_probability", progress=progress)
    evaluation.oracle_bar = scenario == "default"  # the bar asks the project's own simulator for 0.95
    name = next(k for k, v in DATASETS.items() if v == scenario)
    info = {"name": name, "customers": customers, "days": days, "seed": seed, "scenario": scenario,
            "label": f"churn within {data.label.horizon_days:g} days (simulator ground truth)",
            "events": data.events, "rejected_events": data.rejected}
    spec_info = data.spec.spec.to_dict() if hasattr(data.spec, "spec") else None
    return Run(evaluation.last, fingerprint(data.table), info, evaluation, feature_spec=spec_info)


def run_table(path: str | Path, *, label_column: str = "label", horizon_days: float | None = None,
              config: TrainConfig = TrainConfig(), folds: int = 3, test_dates: Sequence[Any] | None = None,
              test_from: Any = None, progress: bool = False) -> Run:
    """A saved table: rolling evaluation over its observation dates, horizon from its metadata.

    A table without ``observed_at`` (a warehouse snapshot) gets a single stratified holdout; one
    with it needs its label horizon, from the metadata ``build-dataset`` wrote or ``horizon_days``.
    """
    path = Path(path)
    table = read_table(path)
    meta = table.attrs.get("retain", {})
    if label_column not in table:
        raise ValueError(f"{path.name} has no label column {label_column!r} (columns: {', '.join(table.columns[:12])}, ...)")
    names = meta.get("feature_names") or [c for c in table.columns
                                          if c not in (label_column, "observed_at", "customer_id", "true_probability")]
    categorical = meta.get("categorical", [])
    info = {"name": path.name, "source": str(path), "label": label_column}
    if "observed_at" not in table:
        result = fit(table, label_column, feature_names=names, categorical=categorical, config=config)
        return Run(result, fingerprint(table), info, feature_spec=meta.get("feature_spec"))
    horizon = horizon_days if horizon_days is not None else meta.get("horizon_days")
    if horizon is None:
        raise ValueError(f"{path.name} does not say its label horizon (it was not built by `retain model "
                         "build-dataset`): pass --horizon-days, the days each label looks ahead, so training rows "
                         "whose label window reaches a test date are embargoed")
    group = "customer_id" if "customer_id" in table else None
    evaluation = rolling_evaluate(table, label_column, horizon_days=float(horizon), feature_names=names,
                                  categorical=categorical, group_column=group, test_dates=test_dates,
                                  test_from=test_from, folds=folds, config=config,
                                  oracle_column="true_probability" if "true_probability" in table else None,
                                  progress=progress)
    return Run(evaluation.last, fingerprint(table), info, evaluation, feature_spec=meta.get("feature_spec"))
