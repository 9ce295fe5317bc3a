"""Outbox claiming on PostgreSQL: concurrent senders take disjoint rows (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid

import pytest
from sqlmodel import Session

from outreach.channels.sink import SinkChannel
from outreach.outbox import service as outbox
from outreach.outbox.sender import Sender
from infra.database import make_engine
from retain.migrations import migrate
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

LEASE = dt.timedelta(minutes=2)


@pytest.fixture(scope="module")
def engine(postgres_url):
    """One migrated PostgreSQL database for the module (the conftest's ``postgres_url``)."""
    eng = make_engine(postgres_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def customers(engine):
    """Ten fresh customers with an outbox row each; returns their ids."""
    ids = [f"pg-{uuid.uuid4().hex[:8]}" for _ in range(10)]
    for customer_id in ids:
        add_customer(engine, customer_id, email=f"{customer_id}@example.com")
    with Session(engine) as session:
        for customer_id in ids:
            outbox.enqueue(session=session, decision=decision(customer_id), now=T0)
        session.commit()
    return ids


@pytest.mark.timeout(60)  # without SKIP LOCKED the second claim would wait on the first forever
def test_two_open_claims_take_disjoint_rows_without_waiting(engine, customers):
    first, second = Session(engine), Session(engine)
    try:
        taken_first = outbox.claim(session=first, owner="a", now=T0, lease=LEASE, limit=6)
        # ``first`` still holds its row locks (not committed): ``second`` must skip them, not block.
        taken_second = outbox.claim(session=second, owner="b", now=T0, lease=LEASE, limit=6)
        ids_first = {r.message_id for r in taken_first}
        ids_second = {r.message_id for r in taken_second}
        assert len(ids_first) == 6 and len(ids_second) == 4
        assert ids_first.isdisjoint(ids_second)
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    # both leases hold now: a third sender finds nothing due until they expire
    with Session(engine) as third:
        assert outbox.claim(session=third, owner="c", now=T0, lease=LEASE) == []
        assert len(outbox.claim(session=third, owner="c", now=T0 + LEASE + dt.timedelta(seconds=1), lease=LEASE,
                                limit=100)) >= 10
        third.rollback()


class CountingChannel:
    """Counts every provider call (the sink alone would hide a second call for the same message)."""

    name, provider = "email", "sink"

    def __init__(self):
        self.sink = SinkChannel("email")
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def send(self, message):
        with self.lock:
            self.calls.append(message.message_id)
        return self.sink.send(message)

    def lookup(self, message_id):
        return self.sink.lookup(message_id)


def test_concurrent_senders_send_each_message_once(engine, customers):
    channel = CountingChannel()
    senders = [Sender(engine, channels={"email": channel}, compose=simple_compose, config=CONFIG,
                      rng=random.Random(n), owner=f"s{n}") for n in range(3)]
    at = T0 + dt.timedelta(hours=1)  # past any lease left by the previous test
    threads = [threading.Thread(target=s.run_once, args=(at,), kwargs={"limit": 4}) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for sender in senders:  # whatever is left (limit 4 x 3 may not cover every due row)
        sender.run_once(at)
    assert len(channel.calls) == len(set(channel.calls)) >= len(customers)
    with Session(engine) as session:
        ours = [m for c in customers for m in outbox.list_messages(session=session, customer_id=c)]
    assert all(m.state == "sent" for m in ours)
