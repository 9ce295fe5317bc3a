"""What the model commands print for people: the evaluation summary as tables and lines, and the
JSON-ready form of a summary."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table


def json_ready(value: Any) -> Any:
    """``value`` with NaN as None and numpy scalars as Python numbers (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return json_ready(value.item())
    return value


def print_summary(summary: dict[str, Any]) -> None:
    """Metrics beside the baseline, the interval and verdict, oracle ratio, folds, tuning and the bar."""
    out = Console(stderr=True)
    table = Table("metric", "LightGBM", "baseline", title=f"{summary['dataset']}: {summary['n_test']:,} test rows")
    for key in ("auc", "pr_auc", "brier", "log_loss", "lift_top10", "capture_top10", "lift_top20", "capture_top20"):
        table.add_row(key, f"{summary[key]:.4f}", f"{summary['baseline_' + key]:.4f}")
    out.print(table)
    if "auc_diff_ci" in summary:
        low, high = summary["auc_diff_ci"]
        out.print(f"AUC difference {summary['auc_diff']:+.4f} (95 % interval {low:+.4f} .. {high:+.4f}): "
                  f"{summary['verdict']}", highlight=False)
    if "oracle_ratio" in summary:
        out.print(f"oracle AUC {summary['oracle_auc']:.4f}, ratio {summary['oracle_ratio']:.3f}", highlight=False)
    for fold in summary.get("folds", []):
        d = fold["dates"]
        out.print(f"fold {fold['test_date'][:10]}: auc {fold['auc']:.4f} vs {fold['baseline_auc']:.4f}; train "
                  f"{d['train'][0][:10]}..{d['train'][-1][:10]} ({len(d['train'])} dates), embargoed "
                  f"{', '.join(x[:10] for x in d['embargoed']) or '-'}", highlight=False)
    tuning = summary.get("tuning") or {}
    if tuning:
        out.print(f"tuning: {tuning['trials']} trials in {tuning['seconds']} s, kept the {tuning['chosen']}", highlight=False)
    out.print(f"bar cleared: {summary['bar']['cleared']} {summary['bar']}", highlight=False)
