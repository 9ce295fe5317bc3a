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
