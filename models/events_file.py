"""Read an events file (JSON lines or Parquet) as a stream of validated events, with a summary of
what was rejected and why.

``iter_events`` never holds the file in memory: JSON lines are read line by line and Parquet in
record batches. A bad record is a rejection with a reason (``order.placed.properties.order_id:
Field required``) and its line number (the row number in Parquet, from 1). In strict mode the
first one stops the read with an ``EventFileError`` naming the line; otherwise reading goes on
and ``LoadReport`` counts rejections by reason and keeps the first examples. A file whose every
record is rejected is an error in both modes: nothing usable was read.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from pydantic import ValidationError
from tqdm import tqdm

from signals.events import parse_event

EXAMPLES = 5  # rejected records quoted in a summary
_PARQUET_BATCH = 20_000


class EventFileError(ValueError):
    """An events file that cannot be used; the message is one line meant for a person."""


@dataclass
class LoadReport:
    """What reading an events file gave: counts, rejections by reason and first examples."""

    path: str = ""
    read: int = 0
    rejected: int = 0
    by_reason: Counter = field(default_factory=Counter)
    examples: list[tuple[int, str]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)  # filled by ``load_events`` only

    def reject(self, line: int, reason: str) -> None:
        """Count one rejected record."""
        self.rejected += 1
        self.by_reason[reason] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((line, reason))

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts: read, rejected, by reason (most common first), examples."""
        return {"read": self.read, "rejected": self.rejected, "by_reason": dict(self.by_reason.most_common()),
                "examples": list(self.examples)}

    def describe(self) -> str:
        """The rejections in a few lines for a person (empty when there were none)."""
        if not self.rejected:
            return ""
        lines = [f"{self.rejected:,} of {self.read:,} events rejected in {self.path}:"]
        lines += [f"  {n:,} x {reason}" for reason, n in self.by_reason.most_common(8)]
        lines += [f"  e.g. line {line}: {reason}" for line, reason in self.examples]
        return "\n".join(lines)


def reason_of(exc: Exception) -> str:
    """A short, groupable reason for a rejected record (no values from the record itself)."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return "not a JSON object"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _parquet_rows(path: Path) -> Iterator[Any]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=_PARQUET_BATCH):
        for row in batch.to_pylist():
            props = row.get("properties")
            if isinstance(props, (str, bytes)):
                try:
                    row["properties"] = json.loads(props)
                except json.JSONDecodeError:
                    pass  # parse_event names the field
            elif isinstance(props, dict):
                # A struct column is the union of all payloads' fields: absent ones come back as None.
                row["properties"] = {k: v for k, v in props.items() if v is not None}
            when = row.get("occurred_at")
            if hasattr(when, "isoformat"):
                row["occurred_at"] = when.isoformat()
            yield {k: v for k, v in row.items() if v is not None}


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    if path.suffix == ".parquet":
        yield from enumerate(_parquet_rows(path), start=1)
        return
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield number, line


def iter_events(path: str | Path, report: LoadReport, *, strict: bool = True, progress: bool = False) -> Iterator[Any]:
    """Validated events of a file, in file order; rejections go to ``report`` (see the module doc)."""
    path = Path(path)
    report.path = str(path)
    if path.suffix not in (".jsonl", ".json", ".parquet"):
        raise EventFileError(f"{path}: events must be JSON lines (.jsonl) or Parquet (.parquet)")
    records: Iterable[tuple[int, Any]] = _records(path)
    for number, raw in tqdm(records, desc="events", unit="ev", unit_scale=True, disable=not progress):
        report.read += 1
        try:
            event = parse_event(raw)
        except (ValidationError, ValueError) as exc:
            reason = reason_of(exc)
            if strict:
                raise EventFileError(f"{path} line {number}: {reason} (use --no-strict to skip and count bad records)") from None
            report.reject(number, reason)
            continue
        yield event
    if report.read and report.rejected == report.read:
        examples = "; ".join(f"line {line}: {reason}" for line, reason in report.examples[:3])
        raise EventFileError(f"{path}: all {report.read:,} events were rejected ({examples})")


def load_events(path: str | Path, *, strict: bool = True, progress: bool = False) -> LoadReport:
    """Every valid event of a file in memory (for small files and notebooks), with the report."""
    report = LoadReport()
    report.events = list(iter_events(path, report, strict=strict, progress=progress))
    return report
