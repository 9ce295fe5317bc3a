"""Login throttling under concurrency, on SQLite and PostgreSQL: parallel guesses on one name are each counted
once, so a burst cannot check more passwords than the policy allows."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from retain.console import login_throttle
from retain.console.backoff import NAME_POLICY
from infra.database import session_scope
from retain.migrations import migrate

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_a_burst_of_parallel_attempts_gets_at_most_the_allowed_password_checks(engine):
    migrate(engine)
    keys = [(login_throttle.name_key("admin"), NAME_POLICY)]

    def one_attempt(_: int) -> bool:
        with session_scope(engine) as session:
            attempt = login_throttle.begin(session=session, keys=keys, now=NOW)
            if not attempt.allowed:
                session.rollback()
                return False
            session.commit()
            return True  # the caller would now check the password

    with ThreadPoolExecutor(max_workers=8) as pool:
        checked = sum(pool.map(one_attempt, range(40)))
    # Five free attempts and the sixth (which starts the first wait), never more, however they interleave.
    assert 1 <= checked <= NAME_POLICY.free + 1
    with session_scope(engine) as session:
        later = login_throttle.begin(session=session, keys=keys, now=NOW)
    assert later.allowed is (checked < NAME_POLICY.free + 1)


def test_a_success_forgets_the_name_and_refunds_the_address(engine):
    migrate(engine)
    keys = login_throttle.login_keys("admin", "192.0.2.1")
    with session_scope(engine) as session:
        for _ in range(3):
            login_throttle.begin(session=session, keys=keys, now=NOW)
            session.commit()
        attempt = login_throttle.begin(session=session, keys=keys, now=NOW)
        login_throttle.succeeded(session=session, attempt=attempt, reset=keys[0][0], now=NOW)
        session.commit()
        from retain.console.records import LoginThrottleRecord
        assert session.get(LoginThrottleRecord, keys[0][0]) is None
        assert session.get(LoginThrottleRecord, keys[1][0]).failures == 3
