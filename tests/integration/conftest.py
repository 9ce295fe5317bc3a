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
        downgrade(eng, "base")
        with eng.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        eng.dispose()


@pytest.fixture
def migrated(engine) -> Engine:
    """``engine`` with every migration applied."""
    migrate(engine)
    return engine
