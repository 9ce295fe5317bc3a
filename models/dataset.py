"""Events file -> training table: features as of each observation date, label from the horizon after.

Only events strictly before an observation date feed its features (the same ``signals.features``
fold the service runs online); the label looks only at ``[observed_at, observed_at + horizon)``.
Two label kinds:

- ``activity`` (non-contractual): 1 when the customer has no activity event within the horizon.
- ``subscription`` (contractual): 1 when the subscription is cancelled within the horizon;
  customers without a live subscription at the observation date are not eligible.

Rows whose horizon runs past the end of the data are dropped (their label is unknown, not 0).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

import pandas as pd
from pydantic import ValidationError
from tqdm import tqdm

from signals import features
from signals.events import parse_event

ACTIVITY_TYPES: tuple[str, ...] = ("order.placed", "product.usage", "checkout.started", "checkout.completed")


@dataclass(frozen=True)
class LabelSpec:
    """What "churned" means for a training row."""

    kind: Literal["activity", "subscription"] = "activity"
    horizon_days: float = 30.0
    activity_types: tuple[str, ...] = ACTIVITY_TYPES

    def __post_init__(self) -> None:
        if self.kind not in ("activity", "subscription"):
            raise ValueError(f"label kind must be 'activity' or 'subscription', not {self.kind!r}")
        if self.horizon_days <= 0:
            raise ValueError("horizon_days must be positive")


@dataclass
class LoadReport:
    """Events read from a file, plus the ones rejected (line number and reason)."""

    events: list[Any]
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _rows_from_parquet(path: Path) -> Iterable[dict[str, Any]]:
    frame = pd.read_parquet(path)
    for row in frame.to_dict(orient="records"):
        props = row.get("properties")
        if isinstance(props, (str, bytes)):
            row["properties"] = json.loads(props)
        elif isinstance(props, dict):
            # A struct column is the union of all payloads' fields: absent ones come back as None.
            row["properties"] = {k: v for k, v in props.items() if v is not None}
        when = row.get("occurred_at")
        if isinstance(when, pd.Timestamp):
            row["occurred_at"] = when.isoformat()
        yield {k: v for k, v in row.items() if v is not None}


def load_events(path: str | Path, *, strict: bool = True, progress: bool = False) -> LoadReport:
    """Read and validate a JSON-lines or Parquet events file; ``strict`` raises on the first bad line."""
    path = Path(path)
    if path.suffix == ".parquet":
        raw: Iterable[Any] = _rows_from_parquet(path)
    else:
        raw = (line for line in path.open("rb") if line.strip())
    report = LoadReport(events=[])
    for number, item in enumerate(tqdm(raw, desc="events", unit="ev", disable=not progress), start=1):
        try:
            report.events.append(parse_event(item))
        except (ValidationError, ValueError) as exc:
            if strict:
                raise ValueError(f"{path}: event {number} is invalid: {exc}") from exc
            report.rejected.append((number, str(exc).splitlines()[0]))
    return report


def observation_dates(start: dt.datetime, end: dt.datetime, every_days: float) -> list[dt.datetime]:
    """Observation dates from ``start`` to ``end`` inclusive, ``every_days`` apart."""
    if every_days <= 0:
        raise ValueError("every_days must be positive")
    dates, current = [], start
    while current <= end:
        dates.append(current)
        current += dt.timedelta(days=every_days)
    return dates


def _label(future: list[Any], label: LabelSpec) -> int | None:
    if label.kind == "activity":
        return int(not any(e.type in label.activity_types for e in future))
    return int(any(e.type == "subscription.cancelled" for e in future))


def _customer_rows(
    customer_id: str, events: list[Any], dates: list[dt.datetime], label: LabelSpec, data_end: dt.datetime
) -> list[dict[str, Any]]:
    horizon = dt.timedelta(days=label.horizon_days)
    state, seen, rows = features.initial_state(), 0, []
    for observed_at in dates:
        if observed_at + horizon > data_end:
            break  # dates are sorted: every later horizon is censored too
        while seen < len(events) and events[seen].occurred_at < observed_at:
            state = features.on_event(state, events[seen])
            seen += 1
        if seen == 0:
            continue  # not a customer yet
        if label.kind == "subscription" and (state["plan"] is None or state["cancelled"]):
            continue  # nothing left to cancel
        end = observed_at + horizon
        future = [e for e in events[seen:] if e.occurred_at < end]
        row = {"customer_id": customer_id, "observed_at": observed_at}
        row.update(zip(features.FEATURE_NAMES, features.vector(state, observed_at)))
        row["label"] = _label(future, label)
        rows.append(row)
    return rows


def build_dataset(
    events: Iterable[Any],
    dates: Iterable[dt.datetime],
    label: LabelSpec = LabelSpec(),
    *,
    data_end: dt.datetime | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Training table: one row per (customer, observation date) with features, ``label``.

    Events are de-duplicated by ``event_id`` and folded per customer in ``occurred_at`` order.
    """
    by_customer: dict[str, list[Any]] = defaultdict(list)
    latest, seen_ids = None, set()
    for event in events:
        if event.event_id in seen_ids:
            continue  # upstream retries repeat an event_id; count it once, as the service does
        seen_ids.add(event.event_id)
        by_customer[event.customer_id].append(event)
        latest = event.occurred_at if latest is None or event.occurred_at > latest else latest
    if latest is None:
        raise ValueError("no events to build a dataset from")
    data_end = data_end or latest
    ordered = sorted(dates)
    rows: list[dict[str, Any]] = []
    for customer_id in tqdm(sorted(by_customer), desc="customers", unit="cust", disable=not progress):
        history = sorted(by_customer[customer_id], key=lambda e: e.occurred_at)  # stable: ties keep file order
        rows.extend(_customer_rows(customer_id, history, ordered, label, data_end))
    columns = ["customer_id", "observed_at", *features.FEATURE_NAMES, "label"]
    return pd.DataFrame(rows, columns=columns)


def fingerprint(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of a table's content (columns, order and values)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
