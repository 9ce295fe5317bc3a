"""Provider calls overlap, exactly-once stays: the sender's bounded pool of in-flight sends.

* N rows with a slow provider are all sent exactly once, with calls overlapping (at most
  ``concurrency`` at a time), every state written by the sender's own thread;
* a row whose lease ran out and was claimed by another sender before this one reached the
  provider is not sent by this one (the ``sending`` commit is conditional on the lease);
* a provider error for one row in flight leaves the others sent and that row retried.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
import time
import uuid

import pytest
from sqlmodel import Session

from outreach.channels.base import OutgoingMessage, SendError, SendResult
from outreach.outbox import service as outbox
from outreach.outbox.records import OutboxRecord
from outreach.outbox.sender import SendReport, Sender
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose, sqlite_engine

pytestmark = pytest.mark.integration


class SlowProvider:
    """Answers after ``latency`` seconds; counts what it accepted and how many calls overlapped."""

    provider = "slow"

    def __init__(self, latency: float = 0.05, fail: set[str] | None = None) -> None:
        self.latency, self.fail = latency, fail or set()
        self.accepted: list[str] = []
        self.threads: set[str] = set()
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.threads.add(threading.current_thread().name)
        time.sleep(self.latency)  # the provider's answer time (what the pool overlaps)
        with self._lock:
            self.in_flight -= 1
            if message.to in self.fail:
                raise SendError("provider answered 503", retryable=True, code="503")
            self.accepted.append(message.message_id)
        return SendResult(provider=self.provider, provider_message_id=f"p-{uuid.uuid4().hex[:8]}")

    def lookup(self, message_id: str) -> SendResult | None:
        return None


@pytest.fixture
def engine(tmp_path):
    eng = sqlite_engine(tmp_path)
    yield eng
    eng.dispose()


def _rows(engine, count: int) -> list[str]:
    customers = [f"c{i:03d}" for i in range(count)]
    for customer in customers:
        add_customer(engine, customer, email=f"{customer}@example.com")
    with Session(engine) as session:
        for customer in customers:
            outbox.enqueue(session=session, decision=decision(customer), now=T0)
        session.commit()
    return customers


def _states(engine) -> dict[str, str]:
    with Session(engine) as session:
        return {row.customer_id: row.state for row in outbox.list_messages(session=session, limit=1000)}


def _sender(engine, provider, concurrency: int, owner: str | None = None) -> Sender:
    return Sender(engine, channels={"email": provider}, compose=simple_compose, owner=owner,
                  config=dataclasses.replace(CONFIG, concurrency=concurrency), rng=random.Random(0))


def test_slow_provider_calls_overlap_and_each_row_is_sent_once(engine):
    customers = _rows(engine, 24)
    provider = SlowProvider(latency=0.05)
    report = _sender(engine, provider, concurrency=8).run_once(T0, limit=50)
    assert report.counts == {"sent": 24}
    assert sorted(provider.accepted) == sorted(set(provider.accepted)) and len(provider.accepted) == 24
    assert 1 < provider.most_in_flight <= 8  # overlapping, and bounded by the pool
    assert set(_states(engine).values()) == {"sent"} and sorted(_states(engine)) == customers
    with Session(engine) as session:
        assert all(row.provider_message_id and row.lease_owner is None
                   for row in outbox.list_messages(session=session, limit=1000))


def test_concurrency_one_sends_one_at_a_time(engine):
    _rows(engine, 5)
    provider = SlowProvider(latency=0.01)
    assert _sender(engine, provider, concurrency=1).run_once(T0).counts == {"sent": 5}
    assert provider.most_in_flight == 1


def test_a_row_whose_lease_was_taken_over_is_not_sent_again(engine):
    [customer] = _rows(engine, 1)
    provider = SlowProvider(latency=0.0)
    first = _sender(engine, provider, concurrency=4, owner="first")
    with Session(engine, expire_on_commit=False) as session:
        [row] = outbox.claim(session=session, owner="first", now=T0, lease=dt.timedelta(seconds=1), limit=5)
        session.commit()
    # The first sender stalls past its lease; a second one claims the row and sends it.
    later = T0 + dt.timedelta(seconds=5)
    second = _sender(engine, provider, concurrency=4, owner="second")
    assert second.run_once(later).counts == {"sent": 1}
    # The first sender wakes up with its stale copy of the row: it must not call the provider.
    first.send_claimed([row], later, first_report := SendReport())
    assert provider.accepted == [row.message_id] and first_report.counts == {}
    assert _states(engine) == {customer: "sent"}


def test_one_failing_call_in_flight_leaves_the_others_sent(engine):
    customers = _rows(engine, 6)
    provider = SlowProvider(latency=0.02, fail={f"{customers[2]}@example.com"})
    report = _sender(engine, provider, concurrency=4).run_once(T0)
    assert report.counts == {"sent": 5, "retry": 1}
    states = _states(engine)
    assert states.pop(customers[2]) == "drafted" and set(states.values()) == {"sent"}
    with Session(engine) as session:
        failed = session.get(OutboxRecord, outbox.list_messages(session=session, customer_id=customers[2])[0].message_id)
    assert failed.attempts == 1 and failed.lease_owner is None and "503" in (failed.last_error or "")
