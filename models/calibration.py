"""Probability calibration on a separate slice, stored as plain JSON data (no pickles).

A calibrator maps the booster's raw margin (log-odds) to a probability:
``platt`` is ``sigmoid(a * margin + b)``; ``isotonic`` is a monotone piecewise-linear map (the
thresholds of scikit-learn's ``IsotonicRegression``, applied exactly as its ``predict`` does).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class Calibrator:
    """Raw margin -> calibrated probability."""

    kind: Literal["platt", "isotonic", "sigmoid"]
    a: float = 1.0
    b: float = 0.0
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    def apply(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for an array of raw margins."""
        margin = np.asarray(margin, dtype=np.float64)
        if self.kind == "isotonic":
            return np.interp(np.clip(margin, self.x[0], self.x[-1]), self.x, self.y)
        return 1.0 / (1.0 + np.exp(-(self.a * margin + self.b)))

    def apply_one(self, margin: float) -> float:
        """The same map for one margin, without numpy overhead."""
        if self.kind == "isotonic":
            x, y = self.x, self.y
            if margin <= x[0]:
                return y[0]
            if margin >= x[-1]:
                return y[-1]
            i = bisect.bisect_right(x, margin)
            x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
            return y0 + (margin - x0) * (y1 - y0) / (x1 - x0) if x1 != x0 else y1
        z = self.a * margin + self.b
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored next to the model)."""
        return {"kind": self.kind, "a": self.a, "b": self.b, "x": self.x, "y": self.y}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibrator":
        """Inverse of ``to_dict``."""
        return cls(kind=data["kind"], a=data["a"], b=data["b"], x=list(data["x"]), y=list(data["y"]))


IDENTITY = Calibrator(kind="sigmoid")  # the booster's own sigmoid: no calibration


def fit_calibrator(margin: np.ndarray, y: np.ndarray, kind: str = "isotonic") -> Calibrator:
    """Fit a calibrator on a calibration slice that neither training nor early stopping saw."""
    margin = np.asarray(margin, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if kind == "sigmoid":
        return IDENTITY
    if kind == "platt":
        # Nearly unregularised: Platt scaling is a 2-parameter fit, not a model to shrink.
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
        return Calibrator(kind="platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
    if kind == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y)
        return Calibrator(kind="isotonic", x=[float(v) for v in iso.X_thresholds_], y=[float(v) for v in iso.y_thresholds_])
    raise ValueError(f"calibration must be 'isotonic', 'platt' or 'sigmoid', not {kind!r}")
