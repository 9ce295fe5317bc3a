"""A second engine on the same SQLite file never costs the first one its locks (found by tests/chaos).

Making an engine made the file owner-only by opening and closing it. Closing any descriptor of a
file drops every POSIX lock the process holds on it, SQLite's included; the service makes an
engine per part, so the next process to close its last connection (a CLI, a backup, a test's
reader) took itself for the last one, checkpointed and deleted the WAL under the service's open
connections: "database disk image is malformed" and "disk I/O error", and later commits lost.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from sqlalchemy import text

from infra.database import make_engine


def _other_process_writes_and_closes(path: str, value: int) -> None:
    code = (f"import sqlite3; c = sqlite3.connect({path!r}); c.execute('INSERT INTO t VALUES ({value})'); "
            "c.commit(); c.close()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_wal_and_every_commit_survive_another_process_closing_its_connection(tmp_path):
    path = str(tmp_path / "retain.db")
    first = make_engine(f"sqlite:///{path}")
    with first.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    held = first.connect()  # an open connection of the service, as its pool keeps them
    held.execute(text("SELECT count(*) FROM t")).scalar()
    second = make_engine(f"sqlite:///{path}")  # another part of the same process makes its engine
    _other_process_writes_and_closes(path, 2)
    assert os.path.exists(f"{path}-wal"), "the other process deleted the WAL under our open connection"
    with first.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (3)"))
    with second.connect() as connection:
        assert sorted(connection.execute(text("SELECT x FROM t")).scalars()) == [1, 2, 3]
    assert held.execute(text("SELECT count(*) FROM t")).scalar() == 3
    held.close()
    first.dispose()
    second.dispose()


def test_a_new_database_file_is_still_created_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "data" / "retain.db"
        engine = make_engine(f"sqlite:///{path}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        path.chmod(0o644)  # an older version's file: tightened without being opened
        make_engine(f"sqlite:///{path}").dispose()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        engine.dispose()
    finally:
        os.umask(old)
