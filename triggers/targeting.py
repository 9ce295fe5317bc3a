"""Compare "risk > x" with "uplift > y" for a rule at the same message volume.

From a rule's candidates in a backtest (its engage and holdout decisions, each scored with risk
and uplift), ``x`` fixes the volume: the candidates with risk above it. ``y`` is then the uplift
threshold that picks the same number of candidates. For each policy: the mean risk, the mean
predicted uplift (points) and the extra goals it predicts (the sum of uplift over the picked,
in customers), plus how many customers both pick.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def compare_at_same_volume(candidates: pd.DataFrame, risk_threshold: float) -> dict[str, Any]:
    """The comparison for one rule's candidates (columns ``risk``, ``predicted_uplift``, ``customer_id``)."""
    scored = candidates.dropna(subset=["risk", "predicted_uplift"])
    by_risk = scored[scored["risk"] > risk_threshold]
    volume = len(by_risk)
    out: dict[str, Any] = {"candidates": int(len(scored)), "messages": volume, "risk_threshold": risk_threshold}
    if volume == 0:
        return {**out, "uplift_threshold": None}
    ranked = scored.sort_values("predicted_uplift", ascending=False, kind="stable")
    by_uplift = ranked.head(volume)
    next_below = ranked["predicted_uplift"].iloc[volume] if volume < len(ranked) else None
    # The threshold sits between the last picked and the first left out (points, rounded for a rule file).
    y = float(by_uplift["predicted_uplift"].iloc[-1]) if next_below is None else (
        float(by_uplift["predicted_uplift"].iloc[-1]) + float(next_below)) / 2
    for name, picked in (("risk", by_risk), ("uplift", by_uplift)):
        out[name] = {"mean_risk": float(picked["risk"].mean()),
                     "mean_predicted_uplift_points": float(picked["predicted_uplift"].mean()),
                     "predicted_extra_goals": float(picked["predicted_uplift"].sum() / 100)}
    out["uplift_threshold"] = round(y, 3)
    out["overlap"] = int(len(set(by_risk.index) & set(by_uplift.index)))
    return out


def compare_rules(rows: pd.DataFrame, risk_threshold: float) -> dict[str, dict[str, Any]]:
    """``compare_at_same_volume`` per rule of an uplift table (from ``uplift_data``)."""
    return {str(rule_id): compare_at_same_volume(group, risk_threshold)
            for rule_id, group in rows.groupby("rule_id", sort=True)}
