"""The lock keys' order (doctests) and that SQLite takes no advisory lock."""

from __future__ import annotations

import doctest

import infra.party_locks
from infra.database import make_engine
from infra.party_locks import lock_parties
from sqlmodel import Session


def test_docstring_examples():
    result = doctest.testmod(infra.party_locks)
    assert result.attempted > 0 and result.failed == 0


def test_sqlite_takes_no_lock(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with Session(engine) as session:
        lock_parties(session, shared=False, customer_ids=["c1"], contact_hashes=["h"])  # no pg_* function here
        assert session.in_transaction() is False  # not even a statement was sent
    engine.dispose()
