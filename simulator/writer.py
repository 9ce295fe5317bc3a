"""Event and label files: JSON lines or Parquet, chosen by the file suffix.

Parquet keeps the envelope as columns and ``properties`` as a JSON string (event types have
different payloads), with ``occurred_at`` as the ISO text that went on the wire, so reading a
file back gives exactly the dicts that were written, malformed demo events included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SUFFIXES = (".jsonl", ".parquet")
_ENVELOPE = ("event_id", "customer_id", "type", "occurred_at")
_EVENT_SCHEMA = pa.schema([(name, pa.string()) for name in (*_ENVELOPE, "properties")])
_BATCH = 50_000


def check_suffix(path: Path) -> str:
    """The file format of ``path`` (``.jsonl`` or ``.parquet``); raises ValueError otherwise."""
    if path.suffix not in SUFFIXES:
        raise ValueError(f"unsupported file suffix {path.suffix!r}; use one of {', '.join(SUFFIXES)}")
    return path.suffix


def labels_path(events_path: Path) -> Path:
    """Where the ground-truth labels of an events file go: ``events.jsonl`` -> ``events.labels.jsonl``."""
    return events_path.with_suffix(".labels" + events_path.suffix)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def write_events(path: Path, events: Iterable[dict[str, Any]]) -> int:
    """Write events to ``path`` (format from suffix); returns how many were written."""
    fmt = check_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    if fmt == ".jsonl":
        with path.open("w", encoding="utf-8") as out:
            for event in events:
                out.write(_dumps(event) + "\n")
                count += 1
        return count
    with pq.ParquetWriter(path, _EVENT_SCHEMA) as writer:
        batch: list[dict[str, Any]] = []
        for event in events:
            batch.append(event)
            count += 1
            if len(batch) >= _BATCH:
                writer.write_table(_event_table(batch))
                batch = []
        if batch or count == 0:
            writer.write_table(_event_table(batch))
    return count


def _event_table(events: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [e.get(name) for e in events] for name in _ENVELOPE}
    columns["properties"] = [_dumps(e["properties"]) if "properties" in e else None for e in events]
    return pa.table(columns, schema=_EVENT_SCHEMA)


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Read back the event dicts written by ``write_events``."""
    fmt = check_suffix(path)
    if fmt == ".jsonl":
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)
        return
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_BATCH):
        for row in batch.to_pylist():
            event = {k: v for k, v in row.items() if v is not None and k != "properties"}
            if row["properties"] is not None:
                event["properties"] = json.loads(row["properties"])
            yield event


def write_labels(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ground-truth label rows (JSON lines or Parquet by suffix)."""
    fmt = check_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == ".jsonl":
        with path.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(_dumps(row) + "\n")
        return
    schema = pa.schema([("customer_id", pa.string()), ("observed_at", pa.string()),
                        ("horizon_days", pa.int32()), ("true_probability", pa.float64()),
                        ("churned", pa.bool_()), ("churned_at", pa.string()), ("persuadable", pa.bool_()),
                        ("response_type", pa.string()), ("true_probability_if_messaged", pa.float64()),
                        ("true_effect", pa.float64())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def read_labels(path: Path) -> list[dict[str, Any]]:
    """Read label rows written by ``write_labels``."""
    if check_suffix(path) == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pq.read_table(path).to_pylist()
