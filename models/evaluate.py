"""Evaluation report for a risk model: ranking, calibration and targeting quality.

``report(y, p)`` gives ROC-AUC, PR-AUC, Brier, log loss, a calibration curve and lift/capture at
the top 10% and 20% of scored customers (the people a campaign would actually contact).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed rate in equal-width probability bins (empty bins left out)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    curve = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            curve.append({"predicted": float(p[mask].mean()), "observed": float(y[mask].mean()), "count": int(mask.sum())})
    return curve


def lift_at(y: np.ndarray, p: np.ndarray, fraction: float) -> tuple[float, float]:
    """(lift, capture) when contacting the top ``fraction`` of customers by score."""
    n = max(1, int(round(len(y) * fraction)))
    top = np.argsort(-p, kind="stable")[:n]
    base = y.mean()
    positives = y.sum()
    lift = float(y[top].mean() / base) if base > 0 else float("nan")
    capture = float(y[top].sum() / positives) if positives > 0 else float("nan")
    return lift, capture


def report(y: Any, p: Any) -> dict[str, Any]:
    """All metrics for labels ``y`` (0/1) and probabilities ``p``."""
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    both = len(np.unique(y)) == 2
    out: dict[str, Any] = {
        "n": int(len(y)),
        "base_rate": float(y.mean()),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "calibration": calibration_curve(y, p),
    }
    for fraction in (0.1, 0.2):
        lift, capture = lift_at(y, p, fraction)
        out[f"lift_top{int(fraction * 100)}"] = lift
        out[f"capture_top{int(fraction * 100)}"] = capture
    return out


def summary(model: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The flat comparison the CLI prints: model metrics beside the baseline's."""
    keys = ("auc", "pr_auc", "brier", "log_loss", "lift_top10", "capture_top10", "lift_top20", "capture_top20")
    out = {k: model[k] for k in keys}
    out.update({f"baseline_{k}": baseline[k] for k in keys})
    out["base_rate"] = model["base_rate"]
    return out


def _weighted_auc(codes: np.ndarray, y: np.ndarray, weights: np.ndarray, levels: int) -> float:
    """ROC-AUC with row weights; ``codes`` rank the scores (ties share a code, counted half)."""
    pos = np.bincount(codes, weights=weights * y, minlength=levels)
    neg = np.bincount(codes, weights=weights * (1 - y), minlength=levels)
    below = np.cumsum(neg) - neg
    total = pos.sum() * neg.sum()
    return float((pos * (below + 0.5 * neg)).sum() / total) if total > 0 else float("nan")


def paired_difference(y: Any, p_model: Any, p_base: Any, groups: Any = None, *, n_boot: int = 1000,
                      level: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Model minus baseline (AUC and Brier) on the same rows, with bootstrap intervals.

    Resamples whole ``groups`` (customers: their rows are not independent) with replacement,
    ``n_boot`` times; the interval is the percentile interval at ``level``. ``verdict`` says
    whether the AUC interval lies above 0, below 0, or straddles it (no clear difference).
    """
    y = np.asarray(y, dtype=np.float64)
    p_model, p_base = np.asarray(p_model, dtype=np.float64), np.asarray(p_base, dtype=np.float64)
    group_codes = np.unique(np.asarray(groups if groups is not None else np.arange(len(y))), return_inverse=True)[1]
    n_groups = int(group_codes.max()) + 1
    model_codes = np.unique(p_model, return_inverse=True)[1]
    base_codes = np.unique(p_base, return_inverse=True)[1]
    model_levels, base_levels = int(model_codes.max()) + 1, int(base_codes.max()) + 1
    err_model, err_base = (p_model - y) ** 2, (p_base - y) ** 2
    rng = np.random.default_rng(seed)
    auc_diffs, brier_diffs = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        weights = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[group_codes].astype(np.float64)
        auc_diffs[b] = (_weighted_auc(model_codes, y, weights, model_levels)
                        - _weighted_auc(base_codes, y, weights, base_levels))
        brier_diffs[b] = (weights @ err_model - weights @ err_base) / weights.sum()
    tail = (1 - level) / 2 * 100
    ones = np.ones(len(y))
    auc = _weighted_auc(model_codes, y, ones, model_levels) - _weighted_auc(base_codes, y, ones, base_levels)
    low, high = (float(v) for v in np.nanpercentile(auc_diffs, [tail, 100 - tail]))
    brier_low, brier_high = (float(v) for v in np.nanpercentile(brier_diffs, [tail, 100 - tail]))
    if low > 0:
        verdict = f"LightGBM's AUC is higher: the {level:.0%} interval lies above 0"
    elif high < 0:
        verdict = f"the baseline's AUC is higher: the {level:.0%} interval lies below 0"
    else:
        verdict = f"no clear AUC difference: the {level:.0%} interval straddles 0"
    return {"auc_diff": auc, "auc_diff_ci": [low, high], "brier_diff": float(err_model.mean() - err_base.mean()),
            "brier_diff_ci": [brier_low, brier_high], "bootstrap": {"resamples": n_boot, "groups": n_groups,
                                                                    "level": level}, "verdict": verdict}
