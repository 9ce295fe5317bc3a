"""Transient infrastructure trouble never gives an outbox row a final state (issue 11, finding 1).

A customer row that is not there yet (the projection lags, or the database was down while the
profile arrived) is waited for until the decision's moment passes, and then the row expires with
a reason that says so; a database error while drafting leaves the row to be tried again.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from outreach.channels.sendgrid import SendGridChannel
from outreach.outbox import service as outbox
from outreach.outbox.records import FINAL_STATES, OutboxRecord
from outreach.outbox.sender import Sender
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose, sqlite_engine
from tests.fakes.sendgrid_api import FakeSendGrid

pytestmark = pytest.mark.integration

EMAIL = "late@example.com"


@pytest.fixture
def engine(tmp_path):
    eng = sqlite_engine(tmp_path)
    yield eng
    eng.dispose()


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


def _sender(engine, sendgrid, compose=simple_compose) -> Sender:
    channel = SendGridChannel(sendgrid.api_key, from_email="n@example.com", host=sendgrid.url, timeout=0.5)
    return Sender(engine, channels={"email": channel}, compose=compose, config=CONFIG, rng=random.Random(1))


def _enqueue(engine, *decisions) -> None:
    with Session(engine) as session:
        for d in decisions:
            outbox.enqueue(session=session, decision=d, now=T0)
        session.commit()


def _row(engine) -> OutboxRecord:
    with Session(engine) as session:
        [row] = outbox.list_messages(session=session)
    return row


def test_a_missing_customer_row_is_waited_for_not_suppressed(engine, sendgrid):
    _enqueue(engine, decision("late"))  # the decision arrived before the projection stored the customer
    sender = _sender(engine, sendgrid)
    assert sender.run_once(T0).counts == {}
    row = _row(engine)
    assert row.state not in FINAL_STATES and "customer record" in (row.last_error or "")
    assert T0 < row.next_attempt_at <= row.expires_at
    assert sender.run_once(T0).counts == {}  # not due again before its next attempt

    add_customer(engine, "late", email=EMAIL)  # the projection caught up
    assert sender.run_once(row.next_attempt_at).counts == {"sent": 1}
    assert [r["personalizations"][0]["to"][0]["email"] for r in sendgrid.accepted] == [EMAIL]


def test_waiting_for_a_customer_row_ends_when_the_moment_passes(engine, sendgrid):
    _enqueue(engine, decision("late", expires_at=T0 + dt.timedelta(hours=2)))
    sender = _sender(engine, sendgrid)
    now = T0
    for _ in range(50):  # every retry until the row settles; bounded
        sender.run_once(now)
        row = _row(engine)
        if row.state in FINAL_STATES:
            break
        assert row.next_attempt_at <= row.expires_at  # never scheduled past the moment
        now = row.next_attempt_at
    assert (row.state, row.last_error) == ("suppressed", "expired: no customer record arrived before the moment "
                                                         "passed (projection lagging or database down)")
    assert sendgrid.requests == []


def test_a_database_error_while_drafting_is_tried_again_not_failed(engine, sendgrid):
    add_customer(engine, "c1", email=EMAIL)
    _enqueue(engine, decision("c1"))
    calls = []

    def compose_reading_a_locked_database(decision, **facts):
        calls.append(decision.decision_id)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return simple_compose(decision, **facts)

    sender = _sender(engine, sendgrid, compose_reading_a_locked_database)
    assert sender.run_once(T0).counts == {}
    row = _row(engine)
    assert row.state == "pending" and row.lease_owner is None and row.next_attempt_at > T0
    assert sender.run_once(row.next_attempt_at).counts == {"sent": 1}
    assert len(sendgrid.accepted) == 1
