"""Uplift tables on disk: one row per engage/holdout decision, written by ``retain rules uplift-data``.

Columns: ``rule_id``, ``rule_version``, ``customer_id``, ``decided_at``, ``treated`` (1 = messaged,
0 = held out), ``outcome`` (1 = the rule's goal reached within its version's window) and the
features at the decision. The table's metadata names the feature columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from models.table_file import read_table
from models.uplift import OUTCOME, TREATED

KEY_COLUMNS = ("rule_id", "rule_version", "customer_id", "decided_at", TREATED, OUTCOME)


def read_uplift_table(path: Path) -> tuple[pd.DataFrame, list[str], list[str], dict[str, Any]]:
    """(table, feature names, categorical names, source) of an uplift table file."""
    if not path.exists():
        raise FileNotFoundError(f"--dataset must be 'simulated' or an existing uplift table file, not {str(path)!r}")
    table = read_table(path)
    missing = [c for c in (TREATED, OUTCOME, "customer_id") if c not in table]
    if missing:
        raise ValueError(f"{path.name} is not an uplift table: it lacks {', '.join(missing)}")
    meta = table.attrs.get("retain", {})
    names = meta.get("feature_names") or [c for c in table.columns if c not in KEY_COLUMNS]
    return table, list(names), list(meta.get("categorical", [])), {"table": str(path)}


def check_uplift_out(out: Path) -> None:
    """``--out`` of both uplift-data commands: a .parquet or .csv path, else that option's usage error."""
    import typer

    from models.table_file import check_table_path

    try:
        check_table_path(out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None


def serving_feature_names(settings: Any) -> list[str]:
    """The feature columns an uplift table carries: the served feature spec's, as the decisions recorded them."""
    from signals import features as feature_spec

    return list(feature_spec.from_settings(settings.serving.features).FEATURE_NAMES)


def write_uplift_table(rows: pd.DataFrame, out: Path) -> str:
    """Write an uplift table (``triggers.uplift_data.uplift_rows``) with its metadata; the line to tell the user."""
    from models.table_file import write_table

    write_table(rows, out, rows.attrs["retain"])
    messaged = int(rows["treated"].sum())
    return f"{len(rows):,} rows ({messaged:,} messaged, {len(rows) - messaged:,} held out) -> {out}"
