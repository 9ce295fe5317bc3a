"""The sender's chunks on SQLite and PostgreSQL: one write transaction per chunk, and nothing it guards lost.

A pass reads a chunk's facts once, drafts each row, then in ONE transaction holds the rows (lease
guard), reads consent and suppressions last, writes drafts, final states and ``sending``, commits,
and only then calls the provider. These tests put something between the claim and that commit,
or break a statement of it, and check what each row ends as:

* an opt-out (consent store or suppression) recorded after the claim, up to the moment the chunk's
  transaction starts, is honoured: no send;
* a row whose lease another sender took meanwhile is left to it, the others of the chunk send;
* a database error anywhere in the chunk's transaction gives the whole chunk back without a final
  state, and the next pass sends each row exactly once;
* a provider answer whose recording hit a database error is recorded on the next pass;
* an unexpected error caused by one row leaves the other rows of its chunk sent, and that row
  failed with the error (every row failing alike is no row's fault: they keep their state);
* a stale sender (lease run out) never overwrites what another sender recorded;
* a batch mixing every early outcome ends in the states the per-row sender gave.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, event, update
from sqlmodel import Session

from infra.database import make_engine
from outreach.channels.base import OutgoingMessage, SendResult
from outreach.consent.contact_points import contact_hash
from outreach.consent.service import record_consent, suppress
from outreach.conversations.records import OPEN, ConversationRecord
from outreach.outbox import service as outbox
from outreach.outbox.records import FINAL_STATES, OutboxRecord, RulePauseRecord
from outreach.outbox.send_verdicts import WAITING_FOR_CUSTOMER
from outreach.outbox.sender import Sender
from tests.fakes.outreach_world import CONFIG, T0, add_customer, composed, decision, simple_compose

pytestmark = pytest.mark.integration

NOW = T0 + dt.timedelta(hours=1)


class Recorder:
    """A provider that accepts everything and keeps every call (a second call for a message shows)."""

    name, provider = "email", "recorder"

    def __init__(self) -> None:
        self.calls: list[OutgoingMessage] = []
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> SendResult:
        with self._lock:
            self.calls.append(message)
        return SendResult(provider=self.provider, provider_message_id=f"p-{uuid.uuid4().hex[:8]}")

    def lookup(self, message_id: str) -> SendResult | None:
        with self._lock:
            found = any(call.message_id == message_id for call in self.calls)
        return SendResult(self.provider, "found") if found else None

    def sent_ids(self) -> Counter[str]:
        with self._lock:
            return Counter(call.message_id for call in self.calls)


def _sender(engine: Engine, provider: Recorder, *, concurrency: int = 4, compose=simple_compose,
            owner: str | None = None) -> Sender:
    return Sender(engine, channels={"email": provider}, compose=compose, owner=owner, rng=random.Random(0),
                  config=dataclasses.replace(CONFIG, concurrency=concurrency))


def _customers(engine: Engine, count: int) -> list[str]:
    """``count`` customers with an e-mail address and one queued message each."""
    customers = [f"c{i:02d}" for i in range(count)]
    for customer in customers:
        add_customer(engine, customer, email=f"{customer}@example.com")
    _enqueue(engine, *(decision(customer) for customer in customers))
    return customers


def _enqueue(engine: Engine, *decisions) -> list[str]:
    with Session(engine) as session:
        ids = [outbox.enqueue(session=session, decision=d, now=T0) for d in decisions]
        session.commit()
    return ids


def _rows(engine: Engine) -> dict[str, OutboxRecord]:
    with Session(engine) as session:
        return {row.customer_id: row for row in outbox.list_messages(session=session, limit=1000)}


def _fail_once(engine: Engine, matches: Callable[[str, Any], bool]) -> list[str]:
    """Make the first statement ``matches`` picks fail as a locked / unreachable database does; what failed."""
    failed: list[str] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        if not failed and matches(statement, parameters):
            failed.append(statement)
            raise engine.dialect.loaded_dbapi.OperationalError("database is locked (test)")

    event.listen(engine, "before_cursor_execute", hook)
    return failed


def _before_first(engine: Engine, matches: Callable[[str, Any], bool], action: Callable[[], None]) -> list[str]:
    """Run ``action`` (through another connection) just before the first statement ``matches`` picks."""
    seen: list[str] = []

    def hook(conn, cursor, statement, parameters, context, executemany):
        if not seen and matches(statement, parameters):
            seen.append(statement)
            action()

    event.listen(engine, "before_cursor_execute", hook)
    return seen


def _starting_chunk(statement: str, parameters: Any) -> bool:
    """The chunk transaction's first statement: its shared consent locks (PostgreSQL), else ``outbox.hold``."""
    return "pg_advisory_xact_lock_shared" in statement or (
        statement.startswith("UPDATE outbox SET updated_at") and "pending" in repr(parameters))


@pytest.mark.parametrize("when", ["while drafting", "as the chunk's transaction starts"])
def test_an_opt_out_recorded_after_the_claim_is_honoured(migrated, when):
    customers = _customers(migrated, 6)
    opted_out, complained = customers[1], customers[4]
    other = make_engine(migrated.url)

    def opt_out() -> None:
        with Session(other) as session:
            record_consent(session=session, customer_id=opted_out, channel="email", topic="*", status="opted_out",
                           source="unsubscribe", changed_at=NOW)
            suppress(session=session, contact_hash=contact_hash(CONFIG.contact_hash_key, "email",
                                                                f"{complained}@example.com"),
                     channel="email", reason="spam_complaint", source="sendgrid", now=NOW)
            session.commit()

    fired: list[str] = []
    compose = simple_compose
    if when == "while drafting":
        def compose(d, **facts):  # the claim and the chunk's reads are done; its transaction is not
            if d.customer_id == customers[3]:
                fired.append(d.customer_id)
                opt_out()
            return simple_compose(d, **facts)
    else:
        fired = _before_first(migrated, _starting_chunk, opt_out)
    provider = Recorder()
    try:
        report = _sender(migrated, provider, compose=compose).run_once(NOW)
    finally:
        other.dispose()
    rows = _rows(migrated)
    assert fired
    assert report.counts == {"sent": 4, "suppressed": 2}
    assert (rows[opted_out].state, rows[opted_out].last_error) == ("suppressed", "opted_out")
    assert (rows[complained].state, rows[complained].last_error) == ("suppressed", "suppressed:spam_complaint")
    assert {call.to for call in provider.calls} == {f"{c}@example.com" for c in customers} - {
        f"{opted_out}@example.com", f"{complained}@example.com"}


def test_a_row_whose_lease_was_taken_meanwhile_is_left_to_its_holder(migrated):
    customers = _customers(migrated, 5)
    taken = customers[2]

    def compose(d, **facts):  # another sender claims this row after the first one's lease ran out
        if d.customer_id == taken:
            with migrated.begin() as conn:
                conn.execute(update(OutboxRecord).where(OutboxRecord.customer_id == taken)
                             .values(lease_owner="other", lease_expires_at=NOW + CONFIG.lease))
        return simple_compose(d, **facts)

    provider = Recorder()
    report = _sender(migrated, provider, compose=compose).run_once(NOW)
    rows = _rows(migrated)
    assert report.counts == {"sent": 4}
    assert (rows[taken].state, rows[taken].lease_owner, rows[taken].body) == ("pending", "other", None)
    assert {row.state for customer, row in rows.items() if customer != taken} == {"sent"}
    assert f"{taken}@example.com" not in {call.to for call in provider.calls}


@pytest.mark.parametrize("breaks", ["the consent read", "the sending write"])
def test_a_database_error_in_a_chunk_gives_the_chunk_back_and_the_next_pass_sends_each_once(migrated, breaks):
    customers = _customers(migrated, 5)
    if breaks == "the consent read":
        failed = _fail_once(migrated, lambda statement, _: "FROM consent_states" in statement)
    else:
        failed = _fail_once(migrated, lambda statement, parameters: statement.startswith("UPDATE outbox SET")
                            and "'sending'" in repr(parameters))
    provider = Recorder()
    sender = _sender(migrated, provider)
    assert sender.run_once(NOW).counts == {}
    assert failed and provider.calls == []
    rows = _rows(migrated)
    assert {row.state for row in rows.values()} == {"pending"}  # not even the drafts: one transaction
    assert all(row.lease_owner is None and row.next_attempt_at == NOW + CONFIG.transient_retry
               and row.body is None for row in rows.values())

    assert sender.run_once(NOW + CONFIG.transient_retry).counts == {"sent": 5}
    assert set(provider.sent_ids().values()) == {1} and len(provider.calls) == len(customers)


def test_an_answer_whose_recording_failed_is_recorded_on_the_next_pass(migrated):
    _customers(migrated, 3)
    failed = _fail_once(migrated, lambda statement, parameters: statement.startswith("UPDATE outbox SET updated_at")
                        and "'sending'" in repr(parameters))
    provider = Recorder()
    sender = _sender(migrated, provider)
    first = sender.run_once(NOW).counts  # the calls finish in groups: one group's recording fails
    assert failed and len(provider.calls) == 3
    unrecorded = [row for row in _rows(migrated).values() if row.state == "sending"]
    assert unrecorded and len(unrecorded) == 3 - first.get("sent", 0)

    second = sender.run_once(NOW + dt.timedelta(seconds=1)).counts  # well inside the lease
    assert Counter(first) + Counter(second) == {"sent": 3}
    rows = _rows(migrated)
    assert {row.state for row in rows.values()} == {"sent"} and all(row.provider_message_id for row in rows.values())
    assert set(provider.sent_ids().values()) == {1}


def _unstorable(poisoned: Callable[[str], bool]):
    """A composer whose drafts for some customers cannot be stored (not JSON): their chunk's write fails."""
    def compose(d, **facts):
        message = simple_compose(d, **facts)
        return dataclasses.replace(message, language=object()) if poisoned(d.customer_id) else message
    return compose


def test_an_unexpected_error_on_one_row_leaves_the_others_of_its_chunk_sent(migrated):
    customers = _customers(migrated, 6)
    poison = customers[3]
    provider = Recorder()
    report = _sender(migrated, provider, compose=_unstorable(lambda c: c == poison)).run_once(NOW)
    rows = _rows(migrated)
    assert report.counts == {"sent": 5, "failed": 1}  # its chunk-mates went through: the error is its own
    assert rows[poison].state == "failed" and rows[poison].last_error.startswith("unexpected: ")
    assert "not JSON serializable" in rows[poison].last_error
    assert {row.state for customer, row in rows.items() if customer != poison} == {"sent"}
    assert len(provider.calls) == 5 and f"{poison}@example.com" not in {call.to for call in provider.calls}


def test_an_error_every_row_of_a_chunk_hits_is_no_rows_fault(migrated):
    _customers(migrated, 4)
    provider = Recorder()
    sender = _sender(migrated, provider, compose=_unstorable(lambda c: True), owner="first")
    assert sender.run_once(NOW).counts == {}
    rows = _rows(migrated).values()
    assert provider.calls == [] and not any(row.state in FINAL_STATES for row in rows)
    assert {row.lease_owner for row in rows} == {"first"}  # tried again once the lease runs out


def test_a_stale_sender_never_overwrites_what_another_sender_recorded(migrated):
    [customer] = _customers(migrated, 1)
    provider = Recorder()
    later = NOW + CONFIG.lease + dt.timedelta(seconds=1)
    second_engine = make_engine(migrated.url)
    second = _sender(second_engine, provider, owner="second")

    def stalled() -> None:
        # The first sender stalls past its lease right after its claim; meanwhile a second one
        # claims the row and sends it, and then the rule is paused.
        second.run_once(later)
        with Session(second_engine) as session:
            session.add(RulePauseRecord(rule_id="late-notice", reason="complaints", sends=10, complaint_rate=0.1,
                                        opt_out_rate=0.0, paused_at=later))
            session.commit()

    _before_first(migrated, lambda statement, _: "FROM rule_pauses" in statement, stalled)
    try:
        _sender(migrated, provider, owner="first").run_once(NOW)
    finally:
        second_engine.dispose()
    row = _rows(migrated)[customer]
    assert (row.state, row.last_error) == ("sent", None)  # not "suppressed" over the send
    assert list(provider.sent_ids().values()) == [1]


def _escalate(engine: Engine, customer_id: str, at: dt.datetime) -> None:
    with Session(engine) as session:
        session.add(ConversationRecord(
            conversation_id=uuid.uuid4().hex, customer_id=customer_id, channel="email", status=OPEN,
            intent="complaint", sentiment="negative", frustrated=True, language="en", priority=3, replies=1,
            opened_at=at, last_inbound_at=at, waiting_since=at, escalated_at=at, escalation_reason="complaint",
            updated_at=at))
        session.commit()


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_mixed_batch_ends_in_the_states_of_the_per_row_sender(migrated, concurrency):
    for customer in ("ok", "paused", "expired", "escalated", "approval", "refused", "held", "no-snapshot"):
        add_customer(migrated, customer, email=f"{customer}@example.com")
    add_customer(migrated, "sms", phone="+4915112345678")
    with Session(migrated) as session:
        session.add(RulePauseRecord(rule_id="paused-rule", reason="complaints over the limit", sends=50,
                                    complaint_rate=0.05, opt_out_rate=0.0, paused_at=T0))
        record_consent(session=session, customer_id="refused", channel="email", topic="*", status="opted_out",
                       source="unsubscribe", changed_at=T0)
        session.commit()
    _escalate(migrated, "escalated", NOW - dt.timedelta(minutes=10))
    old = decision("no-snapshot").model_copy(update={"snapshot": None})  # stored before snapshots; no signal row
    _enqueue(migrated, decision("ok"), decision("paused", rule_id="paused-rule"),
             decision("expired", expires_at=NOW - dt.timedelta(minutes=1)), decision("escalated"),
             decision("missing"), decision("approval", requires_approval=True), decision("sms", channel="sms"),
             decision("refused"), decision("held"), old)

    def compose(d, **facts):  # even the template fallback failed a guardrail for this one
        message = simple_compose(d, **facts)
        return composed(d, message.subject, message.text, passed=False) if d.customer_id == "held" else message

    provider = Recorder()
    report = _sender(migrated, provider, concurrency=concurrency, compose=compose).run_once(NOW)
    rows = _rows(migrated)
    states = {customer: (row.state, (row.last_error or "").split(":")[0]) for customer, row in rows.items()}
    assert states == {
        "ok": ("sent", ""),
        "paused": ("suppressed", "rule paused"),
        "expired": ("suppressed", "expired"),
        "escalated": ("suppressed", "conversation_escalated"),
        "missing": ("pending", WAITING_FOR_CUSTOMER),
        "approval": ("awaiting_approval", ""),
        "sms": ("failed", "no channel 'sms'"),
        "refused": ("suppressed", "opted_out"),
        "held": ("held_for_review", ""),
        "no-snapshot": ("failed", "draft failed"),
    }
    assert report.counts == {"sent": 1, "suppressed": 4, "awaiting_approval": 1, "failed": 2, "held_for_review": 1}
    assert rows["paused"].last_error == "rule paused: complaints over the limit"
    assert NOW < rows["missing"].next_attempt_at <= rows["missing"].expires_at
    assert rows["approval"].body and rows["held"].body and rows["refused"].recipient_hash
    assert rows["missing"].lease_owner is None and rows["approval"].lease_owner is None  # claimable, approvable
    assert [call.to for call in provider.calls] == ["ok@example.com"]
