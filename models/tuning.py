"""Hyper-parameters chosen by Optuna's LightGBM tuner on cross-validation, within a time budget.

``LightGBMTunerCV`` tunes stepwise (feature fraction, leaves, bagging, regularisation, minimum
leaf size); each trial is a cross-validated LightGBM fit with early stopping on the training
rows (train + valid slices), folds grouped by customer when there are customers, so a customer's
rows never sit on both sides. The tuner stops starting trials when the budget is spent. The fixed
defaults are cross-validated on the same folds, and the tuned parameters replace them only when
their log loss is lower by more than the defaults' standard error across folds: on a small
validation set a "better" score is often noise, and tuning must not make a model worse.
``max_depth`` and the thread count stay as given, so the compiled scorer's trees stay shallow
whatever the tuner picks.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Sequence

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedKFold

log = logging.getLogger(__name__)

TUNED = ("feature_fraction", "num_leaves", "bagging_fraction", "bagging_freq", "lambda_l1", "lambda_l2",
         "min_data_in_leaf")
FOLDS = 4


def cv_folds(y: np.ndarray, groups: np.ndarray | None, seed: int, k: int = FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` folds: grouped (no group on both sides) when ``groups`` is given, else stratified."""
    if groups is not None and len(np.unique(groups)) >= k:
        return list(GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(y, y, groups))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(y, y))


def dataset(x: np.ndarray, y: np.ndarray, names: Sequence[str], cats: Sequence[str]) -> lgb.Dataset:
    """A LightGBM Dataset that logs nothing to stdout (it carries ``--json`` output)."""
    # A fresh one per training or CV call (LightGBM binds a Dataset to its first parameters). No
    # pre-filter, so tuner trials may vary the minimum leaf size on the same Dataset.
    return lgb.Dataset(x, y, feature_name=list(names), categorical_feature=list(cats), free_raw_data=False,
                       params={"verbose": -1, "feature_pre_filter": False})


def cv_rounds(params: dict[str, Any], x: np.ndarray, y: np.ndarray, names: Sequence[str], cats: Sequence[str], *,
              groups: np.ndarray | None, rounds: int, patience: int, seed: int) -> int:
    """Trees to train: where the cross-validated log loss stopped improving (at least 1)."""
    result = lgb.cv({**params, "metric": "binary_logloss"}, dataset(x, y, names, cats), num_boost_round=rounds,
                    folds=cv_folds(y, groups, seed), callbacks=[lgb.early_stopping(patience, verbose=False)])
    return max(1, len(result["valid binary_logloss-mean"]))


def tune_params(params: dict[str, Any], x: np.ndarray, y: np.ndarray, names: Sequence[str], cats: Sequence[str], *,
                groups: np.ndarray | None, seconds: float, rounds: int, patience: int, seed: int,
                progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """(parameters to train with, a record of the tuning) for the training rows ``x``, ``y``."""
    import optuna
    import optuna_integration.lightgbm as optuna_lgb

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.monotonic()
    folds = cv_folds(y, groups, seed)
    base = {**params, "metric": "binary_logloss"}
    stopping = [lgb.early_stopping(patience, verbose=False)]
    default = lgb.cv(base, dataset(x, y, names, cats), num_boost_round=rounds, folds=folds, callbacks=stopping)
    default_loss = float(default["valid binary_logloss-mean"][-1])
    default_se = float(default["valid binary_logloss-stdv"][-1]) / math.sqrt(len(folds))
    budget = max(1, int(seconds - (time.monotonic() - started)))
    tuner = optuna_lgb.LightGBMTunerCV(
        dict(base), dataset(x, y, names, cats), num_boost_round=rounds, folds=folds, time_budget=budget,
        callbacks=stopping, show_progress_bar=progress, optuna_seed=seed)
    tuner.run()
    trials = [{"number": t.number, "stage": t.user_attrs.get("lightgbm_tuner:step_name", ""),
               "cv_logloss": t.value, "params": dict(t.params)}
              for t in tuner.study.trials if t.value is not None]
    tuned_loss = float(tuner.best_score) if trials else math.inf
    chosen = "tuned" if tuned_loss < default_loss - default_se else "defaults"
    result = dict(params)
    if chosen == "tuned":
        best = dict(tuner.best_params)
        if "min_child_samples" in best:  # the tuner's name for it; one name, no alias conflict
            best["min_data_in_leaf"] = best.pop("min_child_samples")
        result.update({k: v for k, v in best.items() if k in TUNED})
    record = {"seconds": round(time.monotonic() - started, 1), "budget_seconds": seconds, "folds": len(folds),
              "trials": len(trials), "default_cv_logloss": default_loss, "default_cv_logloss_se": default_se,
              "tuned_cv_logloss": tuned_loss, "chosen": chosen,
              "params": {k: result[k] for k in TUNED if k in result}, "trial_log": trials}
    log.info("tuning: %d trials in %.0f s, cv log loss %.5f (defaults %.5f +- %.5f): %s", len(trials),
             record["seconds"], tuned_loss, default_loss, default_se, chosen)
    return result, record
