"""Database fixtures for integration tests: every backend, migrated, cleaned up afterwards.

PostgreSQL is the server at 127.0.0.1:5432 (user postgres, trust auth, database test); each test
module gets a fresh database there, dropped afterwards. Without a reachable server those cases
are skipped with the reason.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from infra.database import make_engine
from retain.migrations import downgrade, migrate
from infra.settings import Settings
from tests.fakes.outages import BreakableDatabase

PG_HOST, PG_PORT = "127.0.0.1", 5432


def postgres_reachable() -> bool:
    """True when something listens on the PostgreSQL port."""
    try:
        socket.create_connection((PG_HOST, PG_PORT), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL for this module, dropped afterwards."""
    if not postgres_reachable():
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} (user postgres, database test)")
    admin = make_engine(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test", isolation_level="AUTOCOMMIT")
    name = f"retain_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgres://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[Engine]:
    """An empty database of each backend; left empty again afterwards."""
    if request.param == "sqlite":
        eng = make_engine(Settings(data_dir=tmp_path / "data", database_url=None))
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"))
    try:
        yield eng
    finally:
        _drop_schema(eng)
        eng.dispose()


@pytest.fixture
def migrated(engine) -> Engine:
    """``engine`` with every migration applied."""
    migrate(engine)
    return engine


def _drop_schema(eng: Engine) -> None:
    downgrade(eng, "base")
    with eng.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def breakable(request, tmp_path) -> Iterator[BreakableDatabase]:
    """A database of each backend the test can take away and give back (see tests/fakes/outages.py)."""
    postgres = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    database = BreakableDatabase(request.param, tmp_path / "data", postgres)
    try:
        yield database
    finally:
        database.end_outage()
        eng = make_engine(database.url)
        try:
            _drop_schema(eng)  # whatever the test's service migrated, on PostgreSQL's shared module database
        finally:
            eng.dispose()
            database.close()


@pytest.fixture
def breakable_engine(breakable) -> Iterator[tuple[BreakableDatabase, Engine]]:
    """``breakable`` and a migrated engine on it."""
    eng = make_engine(breakable.url)
    migrate(eng)
    try:
        yield breakable, eng
    finally:
        breakable.end_outage()
        eng.dispose()
