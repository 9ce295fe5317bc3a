"""Training tables on disk (Parquet or CSV) with the metadata that says how they were built.

The metadata (label kind and horizon, activity types, feature spec and its fingerprint, dates,
build counts; see ``models.dataset.DatasetBuilder.metadata``) travels inside a Parquet file's
key-value metadata under ``retain``, and beside a CSV file as ``<name>.meta.json``. ``read_table``
puts it in ``frame.attrs["retain"]`` (empty for a table from elsewhere). ``TableWriter`` appends
blocks of rows as they are finished, so writing a big table never holds all of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

KEY = "retain"
SUFFIXES = (".parquet", ".csv")


def check_table_path(path: Path) -> None:
    """Raise ValueError unless ``path`` ends in .parquet or .csv."""
    if path.suffix not in SUFFIXES:
        raise ValueError(f"a table file must end in .parquet or .csv, not {path.name!r}")


def meta_path(path: Path) -> Path:
    """Where a CSV table's metadata lives."""
    return path.with_name(path.name + ".meta.json")


def read_table(path: str | Path) -> pd.DataFrame:
    """A table with its metadata in ``attrs["retain"]``; ``observed_at`` parsed as UTC times."""
    path = Path(path)
    check_table_path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        frame = pd.read_parquet(path)
        raw = (pq.read_metadata(path).metadata or {}).get(KEY.encode())
        meta = json.loads(raw) if raw else {}
    else:
        frame = pd.read_csv(path)
        side = meta_path(path)
        meta = json.loads(side.read_text()) if side.exists() else {}
    if "observed_at" in frame and not pd.api.types.is_datetime64_any_dtype(frame["observed_at"]):
        frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True, format="ISO8601")
    frame.attrs[KEY] = meta
    return frame


def write_table(frame: pd.DataFrame, path: str | Path, meta: dict[str, Any] | None = None) -> None:
    """Write a whole table (and its metadata, default ``frame.attrs["retain"]``)."""
    with TableWriter(Path(path), list(frame.columns)) as writer:
        writer.write(frame)
        writer.meta = meta if meta is not None else frame.attrs.get(KEY, {})


class TableWriter:
    """Appends blocks of rows to a Parquet or CSV file; the metadata is written on close."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        check_table_path(path)
        self.path, self.columns, self.rows = path, columns, 0
        self.meta: dict[str, Any] = {}
        self._parquet: Any = None
        self._schema: Any = None

    def write(self, block: pd.DataFrame) -> None:
        """Append rows (the columns of the first block fix the file's schema)."""
        self.rows += len(block)
        if self.path.suffix == ".csv":
            block.to_csv(self.path, mode="a" if self._schema else "w", header=not self._schema, index=False)
            self._schema = True
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(block, schema=self._schema, preserve_index=False)
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self.path, self._schema)
        self._parquet.write_table(table)

    def close(self) -> None:
        """Finish the file and store the metadata (an empty table still gets its columns)."""
        if not self._schema:
            self.write(pd.DataFrame({c: pd.Series(dtype="float64") for c in self.columns}))
        text = json.dumps(self.meta, default=str)
        if self.path.suffix == ".csv":
            meta_path(self.path).write_text(text)
            return
        self._parquet.add_key_value_metadata({KEY: text})
        self._parquet.close()

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
