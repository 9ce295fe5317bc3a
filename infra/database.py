"""Database engine, sessions and the SQL building blocks every domain shares.

SQLite by default, PostgreSQL (psycopg 3) in production. ``make_engine`` accepts the settings or
a URL. Callers own transactions: ``session_scope`` opens a session and closes it, but never
commits on the caller's behalf. ``dialect_insert`` is the one place that picks the dialect's
``INSERT`` (for ``ON CONFLICT DO NOTHING`` / upserts); ``UtcDateTime`` is the timestamp column
type of every table. The schema itself (which tables, which migrations) belongs to the
composition root: ``retain.migrations``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from infra.private_files import create_private_file, private_dir, tighten_if_present
from infra.settings import Settings

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000  # writers from the API, agents and scheduler share one file


def normalise_url(url: str | URL) -> URL:
    """Turn ``postgres://`` / ``postgresql://`` into ``postgresql+psycopg://`` (psycopg 3)."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _private_sqlite_file(path: Path) -> None:
    # Contact details and password hashes: 0600. SQLite gives the -wal and -shm files it creates the
    # database file's mode, so creating the file owner-only first covers them; older ones are tightened.
    # An existing database is only chmod-ed, never opened: closing any descriptor of it drops every
    # POSIX lock this process holds on it, SQLite's included, and the next process to close its last
    # connection then believes it is the last one, checkpoints and deletes the WAL under our open
    # connections ("database disk image is malformed", commits lost; sqlite.org/howtocorrupt.html
    # 2.2). The service makes an engine per part, so this ran while the first one's connections were open.
    if not path.parent.exists():
        private_dir(path.parent)
    create_private_file(path)
    tighten_if_present(path, f"{path}-wal", f"{path}-shm", f"{path}-journal")


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    # WAL lets readers run beside one writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, and much faster than FULL
    cursor.close()


def make_engine(settings_or_url: Settings | str | URL, **engine_options) -> Engine:
    """An engine for the settings' database (or a URL); a SQLite file and its folder are made owner-only."""
    raw = settings_or_url.effective_database_url if isinstance(settings_or_url, Settings) else settings_or_url
    url = normalise_url(raw)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_file(url)
        if path is not None:
            _private_sqlite_file(path)
        engine = create_engine(url, **engine_options)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    engine_options.setdefault("pool_pre_ping", True)  # survive a restarted PostgreSQL
    return create_engine(url, **engine_options)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that rolls back on error and always closes; the caller commits."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer ``SELECT 1``."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def dialect_insert(session: Session, table: Any):
    """``INSERT`` for the session's dialect, so ``.on_conflict_do_nothing()`` works on both databases."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for database dialect {dialect!r}")


class UtcDateTime(TypeDecorator):
    """A timestamp stored in UTC and returned timezone-aware on every database."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column; pass an aware datetime")
        value = value.astimezone(dt.timezone.utc)
        # SQLite stores text: drop the offset so string comparison orders timestamps correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    """Wall-clock now in UTC (record bookkeeping only; domain code takes ``now`` as a parameter)."""
    return dt.datetime.now(dt.timezone.utc)
