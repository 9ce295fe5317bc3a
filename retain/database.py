"""Database engine, sessions and migrations: SQLite by default, PostgreSQL (psycopg 3) in production.

``make_engine`` accepts the settings or a URL; ``migrate`` runs Alembic's ``upgrade head``
programmatically from the migrations shipped inside the package (no alembic.ini needed), so an
installed ``retain`` can migrate its own database. Callers own transactions: ``session_scope``
opens a session and closes it, but never commits on the caller's behalf.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlmodel import Session

from retain.settings import Settings

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000  # writers from the API, agents and scheduler share one file
MIGRATIONS_LOCATION = "retain:migrations"


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


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    # WAL lets readers run beside one writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, and much faster than FULL
    cursor.close()


def make_engine(settings_or_url: Settings | str | URL, **engine_options) -> Engine:
    """An engine for the settings' database (or a URL); creates the SQLite file's folder if missing."""
    raw = settings_or_url.effective_database_url if isinstance(settings_or_url, Settings) else settings_or_url
    url = normalise_url(raw)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
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


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    # env.py reads the engine from here instead of a URL in an ini file.
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database schema to ``revision`` (default: the newest)."""
    log.info("migrating database %s to %s", engine.url.render_as_string(hide_password=True), revision)
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the schema to ``revision`` (tests and rollbacks)."""
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer ``SELECT 1``."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
