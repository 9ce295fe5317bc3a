"""Everything retain writes to its data dir is the owner's alone (folders 0700, files 0600), whatever the umask.

The database holds contact details, consent and console password hashes; logs and keys are no
better for others to read. Each test runs under umask 000, the most permissive a process can have.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from infra.broker import EmbeddedBroker
from infra.database import make_engine
from infra.logs import configure_logging
from infra.private_files import private_dir
from infra.settings import Settings
from outreach.wiring import with_webhook_keys
from retain.migrations import migrate
from retain.worker import WorkerProcess
from tests.logging_state import restored_logging

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def open_umask():
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_and_its_wal_and_shm_files_are_owner_only(tmp_path):
    data = tmp_path / "data"
    engine = make_engine(Settings(data_dir=data))
    migrate(engine)
    with engine.begin() as connection:  # a write leaves the -wal and -shm files in place while connected
        connection.execute(text("CREATE TABLE probe (x INTEGER)"))
        connection.execute(text("INSERT INTO probe VALUES (1)"))
    files = [data / "retain.db", data / "retain.db-wal", data / "retain.db-shm"]
    assert [mode(f) for f in files] == [0o600] * 3
    assert mode(data) == 0o700
    engine.dispose()


def test_a_database_left_world_readable_by_an_older_version_is_tightened(tmp_path):
    database = tmp_path / "retain.db"
    for path in (database, tmp_path / "retain.db-wal"):
        path.touch(mode=0o644)
        os.chmod(path, 0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert mode(database) == mode(tmp_path / "retain.db-wal") == 0o600


def test_an_existing_data_dir_is_tightened(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    assert mode(private_dir(folder)) == 0o700


def test_the_log_file_is_owner_only(tmp_path):
    path = tmp_path / "demo.log"
    with restored_logging():
        configure_logging(file=path)
        logging.getLogger("retain.test").warning("written")
    assert mode(path) == 0o600 and "written" in path.read_text()


def test_the_broker_log_and_its_folder_are_owner_only(tmp_path):
    with EmbeddedBroker(tmp_path / "data") as broker:
        assert mode(broker.log_path) == 0o600
    assert mode(tmp_path / "data") == 0o700


def test_a_worker_process_log_is_owner_only(tmp_path):
    # Nothing listens on port 1: the worker only has to start for its log file to exist.
    worker = WorkerProcess(broker_url="kafka://127.0.0.1:1", data_dir=tmp_path / "data").start()
    try:
        assert mode(worker.log_path) == 0o600 and mode(tmp_path / "data") == 0o700
    finally:
        worker.kill()


def test_generated_webhook_keys_are_owner_only(tmp_path):
    with_webhook_keys(Settings(data_dir=tmp_path / "data"))
    keys = tmp_path / "data" / "webhook-keys"
    assert mode(keys) == 0o700
    assert sorted(mode(f) for f in keys.iterdir()) == [0o600, 0o600]


def test_nothing_in_a_used_data_dir_is_readable_by_others(tmp_path):
    data = tmp_path / "data"
    engine = make_engine(Settings(data_dir=data))
    migrate(engine)
    with restored_logging():
        configure_logging(file=data / "demo.log")
    with_webhook_keys(Settings(data_dir=data))
    engine.dispose()
    readable = [str(p) for p in [data, *data.rglob("*")] if mode(p) & 0o077]
    assert readable == []
