"""Score many customers with a registered model: probability, risk bucket and top drivers per row.

From a table (one row per customer and date, e.g. from ``build-dataset``) or from an events
file, whose events are folded with the model's own feature spec (from its card) up to ``as_of``.
Each row goes through the same compiled ``Scorer`` the service uses, so the drivers are the ones
the trigger stage would see.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

import pandas as pd
from tqdm import tqdm

from models.dataset import DatasetBuilder
from models.registry import RegisteredModel
from signals.features import CompiledSpec, parse_spec


def model_spec(registered: RegisteredModel) -> CompiledSpec:
    """The feature spec a model was trained with (its card), compiled."""
    data = registered.card.get("feature_spec")
    if not data:
        raise ValueError(f"model {registered.version} does not record a feature spec (it was trained on a table from "
                         "elsewhere): score a table with its columns instead of an events file")
    spec = CompiledSpec(parse_spec(data, source=f"model {registered.version}"))
    if list(spec.FEATURE_NAMES) != list(registered.model.feature_names):
        raise ValueError(f"model {registered.version}'s features differ from its recorded spec's columns")
    return spec


def features_as_of(events: Iterable[Any], spec: Any, as_of: dt.datetime) -> pd.DataFrame:
    """One row per customer seen before ``as_of``: the spec's features from the events before it."""
    blocks: list[pd.DataFrame] = []
    builder = DatasetBuilder([as_of], None, spec, on_block=blocks.append)
    for event in events:
        builder.add(event)
    builder.finish(max(as_of, dt.datetime.fromtimestamp(builder.watermark, dt.timezone.utc)))
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=builder.columns)


def score_table(frame: pd.DataFrame, registered: RegisteredModel, *, cut_points: Sequence[float], top: int = 3,
                progress: bool = False) -> pd.DataFrame:
    """Key columns, ``probability``, ``bucket`` and ``driver_k`` / ``driver_k_contribution`` for k = 1..top."""
    missing = [c for c in registered.model.feature_names if c not in frame]
    if missing:
        raise ValueError(f"the table lacks {len(missing)} feature(s) of model {registered.version}: {missing[:5]}")
    scorer = registered.scorer(cut_points)
    matrix = registered.model.encode(frame)
    rows = []
    for vector in tqdm(matrix, desc="scoring", unit="row", unit_scale=True, disable=not progress):
        score = scorer.score(vector, top=top)
        row: dict[str, Any] = {"probability": score.probability, "bucket": score.bucket}
        for k in range(top):
            name, value = score.drivers[k] if k < len(score.drivers) else (None, None)
            row[f"driver_{k + 1}"], row[f"driver_{k + 1}_contribution"] = name, value
        rows.append(row)
    keys = [c for c in ("customer_id", "observed_at") if c in frame]
    out = pd.concat([frame[keys].reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    out["model_version"] = registered.version
    return out
