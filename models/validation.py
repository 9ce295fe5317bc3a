"""Rolling-origin evaluation: one fit per test date, each with its own embargo, pooled and compared.

For every test date ``T`` (chosen with ``test_dates``, all dates from ``test_from``, or by default
the latest ``folds`` dates) the model and the logistic baseline train on the rows whose label
window ends by ``T`` (``observed_at + horizon <= T``: the embargo is the table's own horizon and
includes a window ending exactly at ``T``) and are scored on the rows at ``T``. The parameters
are tuned once, on the earliest fold's training rows, which precede every test date. The report
pools all folds' test rows (model and baseline on exactly the same rows), lists every fold with
its dates, and puts a customer-level bootstrap interval on the AUC and Brier differences.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from models import evaluate
from models.train import FitResult, TrainConfig, fit

ORACLE_BAR = 0.95  # auc / oracle_auc to clear on simulated data


@dataclass
class Fold:
    """One test date's fit."""

    test_date: str
    result: FitResult

    def summary(self) -> dict[str, Any]:
        """The fold's figures and the dates of each slice."""
        s = self.result.summary
        keys = ("auc", "baseline_auc", "brier", "baseline_brier", "base_rate", "n_train", "n_calib", "n_test",
                "best_iteration", "dates")
        return {"test_date": self.test_date, **{k: s[k] for k in keys if k in s}}


@dataclass
class RollingEvaluation:
    """All folds, the pooled reports and the comparison with the baseline."""

    folds: list[Fold]
    report: dict[str, Any]
    baseline_report: dict[str, Any]
    comparison: dict[str, Any]
    horizon_days: float
    pooled: pd.DataFrame  # customer_id, observed_at, label, p_model, p_baseline (+ oracle column)
    tuning: dict[str, Any] = field(default_factory=dict)
    oracle_auc: float | None = None
    oracle_bar: bool = False  # whether auc / oracle_auc >= ORACLE_BAR is part of the bar to clear

    @property
    def last(self) -> FitResult:
        """The fit whose test date is the latest (the one a registry stores)."""
        return self.folds[-1].result

    @property
    def summary(self) -> dict[str, Any]:
        """Flat pooled metrics, the comparison, the bar to clear, and every fold with its dates."""
        out = evaluate.summary(self.report, self.baseline_report)
        out.update(n_train=self.last.summary["n_train"], n_test=int(len(self.pooled)), horizon_days=self.horizon_days,
                   test_dates=[f.test_date for f in self.folds])
        out.update({k: v for k, v in self.comparison.items()})
        bar = {"auc_above_baseline": out["auc"] > out["baseline_auc"],
               "brier_not_worse": out["brier"] <= out["baseline_brier"]}
        if self.oracle_auc is not None:
            out["oracle_auc"] = self.oracle_auc
            out["oracle_ratio"] = out["auc"] / self.oracle_auc if self.oracle_auc else float("nan")
            if self.oracle_bar:
                bar[f"oracle_ratio_at_least_{ORACLE_BAR}"] = out["oracle_ratio"] >= ORACLE_BAR
        out["bar"] = {**bar, "cleared": all(bar.values())}
        out["tuning"] = {k: v for k, v in self.tuning.items() if k != "trial_log"}
        out["folds"] = [f.summary() for f in self.folds]
        return out


def choose_test_dates(times: Sequence[Any], *, test_dates: Sequence[Any] | None = None, test_from: Any = None,
                      folds: int = 3) -> list[pd.Timestamp]:
    """The test dates: as given, every date from ``test_from`` on, or the latest ``folds`` dates."""
    available = sorted(pd.to_datetime(pd.Series(list(times)), utc=True).unique())
    if test_dates:
        chosen = sorted(pd.to_datetime(pd.Series(list(test_dates)), utc=True, format="ISO8601").unique())
        missing = [pd.Timestamp(d).isoformat() for d in chosen if d not in set(available)]
        if missing:
            raise ValueError(f"--test-dates {missing} are not observation dates of the table; it has "
                             f"{', '.join(pd.Timestamp(d).date().isoformat() for d in available)}")
        return [pd.Timestamp(d) for d in chosen]
    if test_from is not None:
        start = pd.Timestamp(test_from)
        start = start.tz_localize("UTC") if start.tzinfo is None else start
        chosen = [d for d in available if d >= start]
        if not chosen:
            raise ValueError(f"--test-from {start.isoformat()} is after the last observation date "
                             f"{pd.Timestamp(available[-1]).isoformat()}")
        return [pd.Timestamp(d) for d in chosen]
    if folds < 1:
        raise ValueError("--folds must be at least 1")
    return [pd.Timestamp(d) for d in available[-folds:]]


def rolling_evaluate(
    frame: pd.DataFrame,
    label: str = "label",
    *,
    horizon_days: float,
    feature_names: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    time_column: str = "observed_at",
    group_column: str | None = "customer_id",
    test_dates: Sequence[Any] | None = None,
    test_from: Any = None,
    folds: int = 3,
    config: TrainConfig = TrainConfig(),
    oracle_column: str | None = None,
    n_boot: int = 1000,
    progress: bool = False,
) -> RollingEvaluation:
    """Fit and score one fold per test date (see the module doc); pooled reports and intervals."""
    embargo = pd.Timedelta(days=horizon_days)
    dates = choose_test_dates(frame[time_column].unique(), test_dates=test_dates, test_from=test_from, folds=folds)
    done: list[Fold] = []
    tuning: dict[str, Any] = {}
    parts = []
    for test_date in tqdm(dates, desc="folds", unit="fold", disable=not progress):
        result = fit(frame, label, feature_names=feature_names, categorical=categorical, time_column=time_column,
                     group_column=group_column, embargo=embargo, test_dates=[test_date], config=config)
        if not done and config.tune_seconds > 0:
            tuning = result.model.tuning
            config = dataclasses.replace(config, params=dict(result.model.params), tune_seconds=0.0)
        done.append(Fold(test_date.isoformat(), result))
        test = result.splits.test
        keep = [c for c in (group_column, time_column, label, oracle_column) if c]
        part = test[keep].copy()
        part["p_model"], part["p_baseline"] = result.test_predictions
        parts.append(part)
    pooled = pd.concat(parts, ignore_index=True)
    y = pooled[label].to_numpy()
    groups = pooled[group_column].to_numpy() if group_column else None
    comparison = evaluate.paired_difference(y, pooled["p_model"], pooled["p_baseline"], groups, n_boot=n_boot)
    oracle = None
    if oracle_column and len(np.unique(y)) == 2:
        oracle = float(roc_auc_score(y, pooled[oracle_column]))
    return RollingEvaluation(done, evaluate.report(y, pooled["p_model"]), evaluate.report(y, pooled["p_baseline"]),
                             comparison, horizon_days, pooled, tuning, oracle)
