"""Events -> training table: features as of each observation date, label from the horizon after.

``DatasetBuilder`` reads events once, in the order they come (a file, a stream), and keeps per
customer only the compiled feature spec's state, a few subscription facts and the rows still
waiting for their label: memory grows with customers, not with events.

- Features: only events strictly before an observation date ``D`` feed its row (the same
  ``signals.features`` fold the worker runs). A customer's row at ``D`` is taken when their
  first event at or after ``D`` arrives, or, for customers who stay quiet, once the stream has
  moved ``max_lateness`` past ``D``. An event for a date whose row is already taken still folds
  into later rows (as the live fold would) and is counted as ``late_for_features``.
- Labels look only at ``[D, D + horizon)``: ``activity`` (non-contractual) is 1 when none of the
  label's ``activity_types`` happens in it; ``subscription`` (contractual) is 1 when the
  subscription is cancelled in it, and only customers with a live subscription at ``D`` get a
  row. A row is final once the stream is ``max_lateness`` past its horizon (later label events
  count as ``late_for_labels``); rows whose horizon runs past the end of the data are dropped
  (their label is unknown, not 0).
- Duplicates: an ``event_id`` among the customer's last ``DEDUP_IDS`` counts once.

The input must be in time order up to ``max_lateness`` (how an export or a topic is read);
``build_dataset`` sorts a list it is given, since it is in memory anyway.
"""

from __future__ import annotations

import array
import bisect
import datetime as dt
import hashlib
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from tqdm import tqdm

from signals import features as builtin_features
from signals.dedup_window import DIGEST_CHARS, event_digest, in_chunk
from signals.fold_domain import in_domain

ACTIVITY_TYPES: tuple[str, ...] = ("order.placed", "product.usage", "checkout.started", "checkout.completed")
DEFAULT_LATENESS = dt.timedelta(hours=6)
DEDUP_IDS = 64  # event ids remembered per customer: an upstream retry repeats a recent one


@dataclass(frozen=True)
class LabelSpec:
    """What "churned" means for a training row."""

    kind: str = "activity"
    horizon_days: float = 30.0
    activity_types: tuple[str, ...] = ACTIVITY_TYPES

    def __post_init__(self) -> None:
        from signals.events import EVENT_TYPES

        if self.kind not in ("activity", "subscription"):
            raise ValueError(f"label kind must be 'activity' or 'subscription', not {self.kind!r}")
        if self.horizon_days <= 0:
            raise ValueError("horizon_days must be positive")
        unknown = [t for t in self.activity_types if t not in EVENT_TYPES]
        if unknown or not self.activity_types:
            raise ValueError(f"activity types must be event types ({', '.join(EVENT_TYPES)}); unknown: {unknown}")
        object.__setattr__(self, "activity_types", tuple(self.activity_types))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a table's metadata."""
        return {"kind": self.kind, "horizon_days": self.horizon_days, "activity_types": list(self.activity_types)}


@dataclass
class BuildStats:
    """What a build saw: events, duplicates, late arrivals, rows kept and censored."""

    events: int = 0
    duplicates: int = 0
    late_for_features: int = 0
    late_for_labels: int = 0
    customers: int = 0
    rows: int = 0
    censored_rows: int = 0
    data_end: str | None = None


class _Customer:
    __slots__ = ("state", "first_seen", "plan", "cancelled", "next", "open", "recent_ids")

    def __init__(self, state: dict[str, Any], next_date: int) -> None:
        self.state = state
        self.first_seen: float | None = None
        self.plan: str | None = None
        self.cancelled = False
        self.next = next_date  # index of the first date whose row is not taken yet
        self.open: deque[tuple[float, "_Block", int]] = deque()  # rows waiting for their label
        self.recent_ids = ""  # the last DEDUP_IDS event digests, concatenated (fixed width)


@dataclass
class _Block:
    """The rows of one observation date (filled customer by customer, final once labelled)."""

    observed_at: dt.datetime
    customer_ids: list[str] = field(default_factory=list)
    vectors: list[array.array] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)


class DatasetBuilder:
    """Streaming builder; ``add`` events in (near) time order, then ``finish`` (see the module doc)."""

    def __init__(self, dates: Iterable[dt.datetime], label: LabelSpec | None = LabelSpec(), spec: Any = None, *,
                 max_lateness: dt.timedelta = DEFAULT_LATENESS,
                 on_block: Callable[[pd.DataFrame], None] | None = None) -> None:
        self.dates = sorted(dates)
        if not self.dates:
            raise ValueError("no observation dates: give --start/--end (and --every) or --dates")
        self.label = label
        self.spec = spec if spec is not None else builtin_features.BUILTIN
        # Without a label (scoring) rows are final as soon as they are taken.
        self.columns = ["customer_id", "observed_at", *self.spec.FEATURE_NAMES, *(["label"] if label else [])]
        self.stats = BuildStats()
        self._on_block = on_block
        self._horizon = label.horizon_days * 86400.0 if label else 0.0
        self._lateness = max_lateness.total_seconds()
        self._times = [d.timestamp() for d in self.dates]
        self._blocks = [_Block(d) for d in self.dates]
        self._swept = 0  # dates up to here have a row for every eligible customer
        self._finalised = 0  # dates up to here are labelled and handed out
        self._customers: dict[str, _Customer] = {}
        self._activity = frozenset(label.activity_types if label else ())
        self._labelled_until = float("-inf")  # label windows before this are final
        self.watermark = float("-inf")

    # -- streaming ---------------------------------------------------------------------------------
    def add(self, event: Any) -> None:
        """Take one event: rows it closes first, then its label effect, then its features."""
        t = event.occurred_at.timestamp()
        customer = self._customers.get(event.customer_id)
        if customer is None:
            # Rows need events strictly before their date: a first event at t counts from the next date on.
            customer = _Customer(self.spec.initial_state(), bisect.bisect_right(self._times, t))
            self._customers[event.customer_id] = customer
        digest = event_digest(event.event_id)
        if in_chunk(customer.recent_ids, digest):
            self.stats.duplicates += 1
            return
        customer.recent_ids = (customer.recent_ids + digest)[-DEDUP_IDS * DIGEST_CHARS:]
        self.stats.events += 1
        while customer.next < len(self._times) and self._times[customer.next] <= t:
            self._row(event.customer_id, customer, customer.next)  # its state holds only events before that date
        if customer.open or t < self._labelled_until:
            self._label(customer, event, t)
        self._fold(customer, event, t)
        if t > self.watermark:
            self.watermark = t
            self._advance(t - self._lateness)

    def _fold(self, customer: _Customer, event: Any, t: float) -> None:
        if customer.next and t < self._times[customer.next - 1]:
            self.stats.late_for_features += 1  # its date's row was already taken
        self.spec.fold_in_place(customer.state, in_domain(event))  # times clamped as the worker's fold does
        if customer.first_seen is None or t < customer.first_seen:
            customer.first_seen = t
        kind = event.type
        if kind == "customer.profile":
            if event.properties.plan is not None and customer.plan is None:
                customer.plan = event.properties.plan
        elif kind == "subscription.changed":
            customer.plan, customer.cancelled = event.properties.plan, False
        elif kind == "subscription.cancelled":
            customer.cancelled = True

    def _label(self, customer: _Customer, event: Any, t: float) -> None:
        if self.label is None:
            return
        subscription = self.label.kind == "subscription"
        if not ((event.type == "subscription.cancelled") if subscription else (event.type in self._activity)):
            return
        if t < self._labelled_until:
            self.stats.late_for_labels += 1
        value = 1 if subscription else 0
        for start, block, index in customer.open:
            if start <= t < start + self._horizon:
                block.labels[index] = value

    def _row(self, customer_id: str, customer: _Customer, index: int) -> None:
        """The customer's row at date ``index`` (if eligible); the customer moves on to the next date."""
        customer.next = index + 1
        if customer.first_seen is None:
            return  # not a customer yet
        if self.label is not None and self.label.kind == "subscription" and (customer.plan is None or customer.cancelled):
            return  # nothing left to cancel
        block = self._blocks[index]
        customer.open.append((self._times[index], block, len(block.customer_ids)))
        block.customer_ids.append(customer_id)
        # A packed array: a list of Python floats costs ~2.5x the memory, and rows wait for their label.
        block.vectors.append(array.array("d", self.spec.vector(customer.state, block.observed_at)))
        block.labels.append(0 if self.label is None or self.label.kind == "subscription" else 1)

    def _advance(self, safe: float) -> None:
        """Sweep every date ``safe`` (watermark - lateness) has passed; finalise the labels it allows."""
        while self._swept < len(self._times) and self._times[self._swept] <= safe:
            self._sweep()
        while self._finalised < self._swept and self._times[self._finalised] + self._horizon <= safe:
            self._finalise()

    def _sweep(self) -> None:
        """Rows at the next date for every customer who has not moved past it yet."""
        index = self._swept
        for customer_id, customer in self._customers.items():
            if customer.next == index:
                self._row(customer_id, customer, index)
        self._swept += 1

    def _finalise(self) -> None:
        block = self._blocks[self._finalised]
        self._blocks[self._finalised] = _Block(block.observed_at)  # let the rows go once handed out
        self._finalised += 1
        for customer_id in block.customer_ids:
            self._customers[customer_id].open.popleft()
        self._labelled_until = max(self._labelled_until, block.observed_at.timestamp() + self._horizon)
        self.stats.rows += len(block.customer_ids)
        if self._on_block is not None and block.customer_ids:
            self._on_block(self._frame(block))

    def _frame(self, block: _Block) -> pd.DataFrame:
        width = len(self.spec.FEATURE_NAMES)
        matrix = np.frombuffer(b"".join(block.vectors), dtype=np.float64).reshape(len(block.vectors), width)
        frame = pd.DataFrame(matrix, columns=list(self.spec.FEATURE_NAMES))
        frame.insert(0, "observed_at", pd.Timestamp(block.observed_at))
        frame.insert(0, "customer_id", block.customer_ids)
        if self.label is not None:
            frame["label"] = np.asarray(block.labels, dtype=np.int64)
        return frame.sort_values("customer_id", kind="stable", ignore_index=True)

    def finish(self, data_end: dt.datetime | None = None) -> BuildStats:
        """Take the remaining rows; rows whose horizon passes ``data_end`` (default: the last event) are dropped."""
        if self.stats.events == 0:
            raise ValueError("no events to build a dataset from")
        end = data_end.timestamp() if data_end is not None else self.watermark
        while self._swept < len(self._times) and self._times[self._swept] + self._horizon <= end:
            self._sweep()
        while self._finalised < self._swept:
            if self._times[self._finalised] + self._horizon <= end:
                self._finalise()
            else:
                self.stats.censored_rows += len(self._blocks[self._finalised].customer_ids)
                self._finalised += 1
        self.stats.customers = len(self._customers)
        self.stats.data_end = dt.datetime.fromtimestamp(end, dt.timezone.utc).isoformat()
        return self.stats

    def metadata(self, **extra: Any) -> dict[str, Any]:
        """What a saved table carries about itself (label, horizon, spec, dates, counts)."""
        return {
            "label": self.label.to_dict() if self.label else None,
            "horizon_days": self.label.horizon_days if self.label else None,
            "feature_spec": self.spec.spec.to_dict() if hasattr(self.spec, "spec") else None,
            "feature_spec_fingerprint": getattr(self.spec, "fingerprint", None),
            "feature_names": list(self.spec.FEATURE_NAMES),
            "categorical": list(self.spec.CATEGORICAL_FEATURES),
            "dates": [d.isoformat() for d in self.dates],
            "build": asdict(self.stats),
            **extra,
        }


def build_dataset(
    events: Iterable[Any],
    dates: Iterable[dt.datetime],
    label: LabelSpec = LabelSpec(),
    *,
    data_end: dt.datetime | None = None,
    progress: bool = True,
    spec: Any = None,
    max_lateness: dt.timedelta = DEFAULT_LATENESS,
) -> pd.DataFrame:
    """Training table in memory: one row per (customer, observation date) with features and ``label``.

    A list or tuple is sorted by ``occurred_at`` first (stably); any other iterable is streamed
    as it comes. ``frame.attrs["retain"]`` holds the table's metadata (``DatasetBuilder.metadata``).
    """
    if isinstance(events, (list, tuple)):
        events = sorted(events, key=lambda e: e.occurred_at)
    blocks: list[pd.DataFrame] = []
    builder = DatasetBuilder(dates, label, spec, max_lateness=max_lateness, on_block=blocks.append)
    for event in tqdm(events, desc="events", unit="ev", unit_scale=True, disable=not progress):
        builder.add(event)
    builder.finish(data_end)
    frame = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=builder.columns)
    frame.attrs["retain"] = builder.metadata()
    return frame


def fingerprint(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of a table's content (columns, order and values)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass
class TableMeta:
    """The metadata of a saved table, with defaults for a table from elsewhere."""

    data: dict[str, Any] = field(default_factory=dict)

    @property
    def horizon_days(self) -> float | None:
        """The label horizon the table was built with (None when it does not say)."""
        value = self.data.get("horizon_days")
        return float(value) if value is not None else None
