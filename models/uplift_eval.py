"""Qini curve, Qini coefficient and AUUC of a targeting score on a randomised held-out slice.

Rows are ranked by a score (highest first). After the top ``k`` rows the Qini curve counts the
good outcomes the message added: ``Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k)`` (treated good
outcomes minus the held-out ones scaled to the treated count). Everything is divided by the
slice's size ``N``, so it reads "extra retained customers per customer of the slice".

- ``qini``: the area between the score's curve and the random-targeting line (from 0 to
  ``Q(N)``): 0 for a score no better than chance, negative for one that targets the harmed first;
- ``auuc``: the area under the uplift curve ``Q(k) / N`` itself (random targeting gets ``Q(N) / 2N``);
- ``retained_per_1000``: at a message budget (the top share of the slice), the customers the
  messages retain per 1,000 messages: from the true individual effects when the simulator gives
  them, else measured as the messaged-minus-held-out difference of good-outcome rates.

Bootstrap intervals resample customers (all of a customer's rows together) with the same
resamples for every score, so the scores stay comparable: ``uplift_minus`` gives the uplift
model's Qini minus each other score's with the interval of the paired differences (does the model
beat risk targeting, or only random?).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


def qini_curve(score: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """``Q(k) / N`` for k = 0..N (ties broken by row order)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t = np.asarray(treated)[order].astype(float)
    y = np.asarray(outcome)[order].astype(float)
    n_t, n_c = np.cumsum(t), np.cumsum(1 - t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * (1 - t))
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(n_c > 0, y_t - y_c * n_t / np.maximum(n_c, 1), y_t)
    return np.concatenate([[0.0], gain]) / len(order)


def qini_coefficient(score: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> float:
    """Area between the Qini curve and the random-targeting line."""
    curve = qini_curve(score, treated, outcome)
    line = np.linspace(0.0, curve[-1], len(curve))
    return float(np.trapezoid(curve - line, dx=1.0 / (len(curve) - 1)))


def auuc(score: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> float:
    """Area under the uplift (Qini) curve."""
    curve = qini_curve(score, treated, outcome)
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def top_share(score: np.ndarray, share: float) -> np.ndarray:
    """Indices of the top ``share`` of rows by score."""
    k = max(1, int(round(share * len(score))))
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k]


def retained_per_1000(score: np.ndarray, share: float, *, true_effect: np.ndarray | None = None,
                      treated: np.ndarray | None = None, outcome: np.ndarray | None = None) -> float:
    """Customers retained per 1,000 messages sent to the top ``share`` by ``score``."""
    top = top_share(score, share)
    if true_effect is not None:
        return float(1000 * np.mean(np.asarray(true_effect)[top]))
    t, y = np.asarray(treated)[top], np.asarray(outcome)[top]
    if t.sum() == 0 or (1 - t).sum() == 0:
        return float("nan")
    return float(1000 * (y[t == 1].mean() - y[t == 0].mean()))


def _customer_resamples(groups: np.ndarray, n_boot: int, seed: int) -> list[np.ndarray]:
    codes, inverse = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == g) for g in range(len(codes))]
    rng = np.random.default_rng(seed)
    return [np.concatenate([rows_of[g] for g in rng.integers(0, len(codes), len(codes))]) for _ in range(n_boot)]


def compare(scores: Mapping[str, np.ndarray], treated: np.ndarray, outcome: np.ndarray, *, groups: np.ndarray,
            true_effect: np.ndarray | None = None, budget: float = 0.2, n_boot: int = 200, seed: int = 0,
            confidence: float = 0.95, progress: Any = None) -> dict[str, Any]:
    """Qini, AUUC (with bootstrap intervals) and retained per 1,000 messages for each named score."""
    treated, outcome = np.asarray(treated), np.asarray(outcome)
    out: dict[str, Any] = {"rows": int(len(treated)), "customers": int(len(np.unique(groups))),
                           "budget_share": budget, "bootstrap": n_boot, "confidence": confidence}
    samples: dict[str, list[float]] = {name: [] for name in scores}
    for rows in _customer_resamples(np.asarray(groups), n_boot, seed):
        for name, score in scores.items():
            samples[name].append(qini_coefficient(np.asarray(score)[rows], treated[rows], outcome[rows]))
        if progress is not None:
            progress.update(1)
    tail = (1 - confidence) / 2 * 100
    if "uplift" in scores:  # paired: the same resamples, so the difference's interval is narrower than either's
        out["uplift_minus"] = {
            name: {"qini": qini_coefficient(scores["uplift"], treated, outcome) - qini_coefficient(score, treated, outcome),
                   "qini_interval": [float(v) for v in np.percentile(
                       np.subtract(samples["uplift"], samples[name]), [tail, 100 - tail])]}
            for name, score in scores.items() if name != "uplift"}
    for name, score in scores.items():
        lo, hi = np.percentile(samples[name], [tail, 100 - tail])
        out[name] = {
            "qini": qini_coefficient(score, treated, outcome), "qini_interval": [float(lo), float(hi)],
            "auuc": auuc(score, treated, outcome),
            "retained_per_1000": retained_per_1000(score, budget, true_effect=true_effect, treated=treated,
                                                   outcome=outcome),
        }
    return out


def uplift_calibration(predicted: np.ndarray, treated: np.ndarray, outcome: np.ndarray,
                       bins: int = 5) -> list[dict[str, float]]:
    """Predicted vs measured uplift per quantile bin of the prediction (lowest first).

    Measured is the messaged-minus-held-out good-outcome rate in the bin (None when an arm is
    empty): a calibrated model's bins lie near the diagonal, within the noise of their sizes.
    """
    predicted, treated, outcome = np.asarray(predicted, float), np.asarray(treated), np.asarray(outcome)
    order = np.argsort(predicted, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if len(part) == 0:
            continue
        t, y = treated[part], outcome[part]
        measured = (float(y[t == 1].mean() - y[t == 0].mean())
                    if (t == 1).any() and (t == 0).any() else None)
        out.append({"predicted": float(predicted[part].mean()), "measured": measured, "rows": int(len(part))})
    return out
