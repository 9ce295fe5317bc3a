"""No send decided after an opt-out, on PostgreSQL (READ COMMITTED) too: every send is ordered with every opt-out.

The sender's chunk transaction reads consent rows and suppressions, then commits ``sending``. On
SQLite its first statement takes the database write lock, so no opt-out commits in between. On
PostgreSQL one could, unseen, and the message went out after the opt-out was acknowledged. These
tests stop a chunk right after its consent reads and record an opt-out from another connection
then: the opt-out must either be seen (the row suppressed) or commit only after the chunk did
(its own transaction then reads the row as already ``sending``). A second sender and the opt-out
touching the same customers meanwhile must all finish, none failed by a deadlock.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text, update
from sqlmodel import Session

from infra.database import make_engine
from outreach.consent.contact_points import contact_hash
from outreach.consent.service import record_consent, suppress
from outreach.outbox import service as outbox
from outreach.outbox.records import OutboxRecord
from outreach.outbox.sender import Sender, SendReport
from outreach.webhooks.sms_keywords import ReplyKind
from outreach.webhooks.twilio_sms import apply_keyword
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose
from tests.integration.test_outreach_send_chunks import NOW, Recorder, _customers, _rows, _sender
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                      indirect=True)]

BOUND = 30.0  # seconds any one wait may take before the test fails naming it


def _after_consent_read(engine: Engine, action: Callable[[], None]) -> list[str]:
    """Run ``action`` once, in the chunk's transaction right after it read the suppressions (its last consent read).

    Only in the thread that installs it: other senders on the same engine are left alone.
    """
    seen: list[str] = []
    thread = threading.get_ident()

    def hook(conn, cursor, statement, parameters, context, executemany):
        if not seen and threading.get_ident() == thread and statement.lstrip().startswith("SELECT") \
                and "FROM suppressions" in statement:
            seen.append(statement)
            action()

    event.listen(engine, "after_cursor_execute", hook)
    return seen


def _waiting(monitor: Engine) -> int:
    """How many lock requests of this database wait (an opt-out or a sender queued behind a chunk)."""
    with monitor.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted AND database = "
                                 "(SELECT oid FROM pg_database WHERE datname = current_database())")).scalar_one()


class Background:
    """A function in a thread of its own; what it returned or raised, once it finished."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(function,), daemon=True)

    def _run(self, function: Callable[[], Any]) -> None:
        try:
            self.result = function()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.done.set()

    def start(self) -> "Background":
        self._thread.start()
        return self

    def finished(self) -> Any:
        assert self.done.wait(BOUND), "still running (a deadlock, or waiting on a lock nobody releases)"
        if self.error is not None:
            raise self.error
        return self.result


def _racing_the_chunk(writer: Callable[[], Any], monitor: Engine,
                     what: str) -> tuple[list[Background], Callable[[], None]]:
    """(where its handle goes, the hook's action): ``writer`` started in its own thread from inside the
    chunk, which goes on once the writer committed or is seen waiting for a lock (the chunk's)."""
    started: list[Background] = []

    def start() -> None:
        started.append(Background(writer).start())
        wait_until(lambda: started[0].done.is_set() or _waiting(monitor) >= 1, BOUND,
                   f"{what} to commit or to wait for the chunk")

    return started, start


def _states_in(session: Session, customer_ids: list[str]) -> dict[str, str]:
    """The committed outbox states of these customers' rows as the opt-out's own transaction reads them."""
    query = select(OutboxRecord.message_id, OutboxRecord.state).where(OutboxRecord.customer_id.in_(customer_ids))
    return dict(session.execute(query).all())


def test_an_opt_out_while_a_chunk_decides_is_seen_or_commits_after_the_chunk(migrated):
    customers = _customers(migrated, 3)
    target = customers[1]
    hashed = contact_hash(CONFIG.contact_hash_key, "email", f"{target}@example.com")
    other, monitor = make_engine(migrated.url), make_engine(migrated.url)

    def opt_out() -> dict[str, str]:  # an unsubscribe and a spam report, as the webhooks record them
        with Session(other) as session:
            record_consent(session=session, customer_id=target, channel="email", topic="*", status="opted_out",
                           source="one_click_unsubscribe", changed_at=NOW, contact_hash=hashed)
            suppress(session=session, contact_hash=hashed, channel="email", reason="spam_complaint",
                     source="sendgrid:spamreport", now=NOW)
            seen = _states_in(session, [target])  # after its writes: what its commit is ordered after
            session.commit()
        return seen

    background, start_opt_out = _racing_the_chunk(opt_out, monitor, "the opt-out")
    fired = _after_consent_read(migrated, start_opt_out)
    provider = Recorder()
    try:
        _sender(migrated, provider).run_once(NOW)
        seen_by_opt_out = background[0].finished()
    finally:
        other.dispose()
        monitor.dispose()
    rows = _rows(migrated)
    assert fired and seen_by_opt_out
    sent_to_target = f"{target}@example.com" in {call.to for call in provider.calls}
    if sent_to_target:  # decided before the opt-out: its commit came first, and the opt-out's reads show it
        assert set(seen_by_opt_out.values()) <= {"sending", "sent"}, \
            f"sent after the opt-out was committed (the opt-out saw {seen_by_opt_out})"
        assert rows[target].state == "sent"
    else:
        assert rows[target].state == "suppressed"
    assert {rows[c].state for c in customers if c != target} == {"sent"}


def test_two_senders_and_an_opt_out_on_the_same_customers_all_finish_in_order(migrated):
    """Sender A stops after its consent read; a STOP for two of its customers and sender B queue up behind it."""
    customers = [f"h{i}" for i in range(4)]
    shared_phone = "+4915112345699"  # a household's phone: one STOP opts out two customers
    household = customers[1:3]
    for index, customer in enumerate(customers):
        add_customer(migrated, customer, phone=shared_phone if customer in household else f"+49151123456{index:02d}")
    with Session(migrated) as session:
        for customer in customers:
            for episode in ("e1", "e2"):
                outbox.enqueue(session=session, decision=decision(customer, channel="sms", episode=episode), now=T0)
        session.execute(update(OutboxRecord).values(lease_expires_at=NOW + CONFIG.lease, lease_owner="sender-b"))
        session.execute(update(OutboxRecord).where(OutboxRecord.episode_key.like("%:e1"))
                        .values(lease_owner="sender-a"))
        session.commit()
        rows_of = {owner: list(session.scalars(select(OutboxRecord).where(OutboxRecord.lease_owner == owner)))
                   for owner in ("sender-a", "sender-b")}
    hashed = contact_hash(CONFIG.contact_hash_key, "sms", shared_phone)
    provider = Recorder()
    provider.name = "sms"
    senders = {owner: Sender(migrated, channels={"sms": provider}, compose=simple_compose, owner=owner,
                             config=dataclasses.replace(CONFIG, concurrency=4)) for owner in rows_of}
    other, monitor = make_engine(migrated.url), make_engine(migrated.url)

    def stop() -> dict[str, str]:  # the Twilio inbound webhook's STOP for the household's number
        with Session(other) as session:
            apply_keyword(session=session, reputation=None, kind=ReplyKind.OPT_OUT, hashed=hashed,
                          customers=list(reversed(household)), rule_id=None, evidence={"message_sid": "SM1"}, now=NOW)
            seen = _states_in(session, household)
            session.commit()
        return seen

    reports = {owner: SendReport() for owner in rows_of}
    background: dict[str, Background] = {}

    def others_meanwhile() -> None:  # sender A holds here, after its consent read, before its commit
        background["stop"] = Background(stop).start()
        wait_until(lambda: background["stop"].done.is_set() or _waiting(monitor) >= 1, BOUND,
                   "the STOP to commit or to wait for sender A")
        background["b"] = Background(lambda: senders["sender-b"].send_claimed(
            rows_of["sender-b"], NOW, reports["sender-b"])).start()
        wait_until(lambda: background["b"].done.is_set() or _waiting(monitor) >= 2, BOUND,
                   "sender B to finish or to wait behind the STOP")

    fired = _after_consent_read(migrated, others_meanwhile)
    try:
        senders["sender-a"].send_claimed(rows_of["sender-a"], NOW, reports["sender-a"])
        seen_by_stop = background["stop"].finished()
        background["b"].finished()
    finally:
        other.dispose()
        monitor.dispose()
    assert fired
    with Session(migrated) as session:
        final = {row.message_id: row for row in session.scalars(select(OutboxRecord))}
    assert all(row.state in ("sent", "suppressed") for row in final.values()), \
        {row.message_id: row.state for row in final.values()}  # nothing given back by a deadlock
    sent = provider.sent_ids()
    assert set(sent.values()) == {1}
    for message_id, row in final.items():
        if row.customer_id in household and message_id in sent:
            assert seen_by_stop[message_id] in ("sending", "sent"), \
                f"{row.customer_id} ({row.episode_key}) was sent after the STOP committed (it saw {seen_by_stop})"
        assert (row.state == "sent") == (message_id in sent)
    # Sender B read consent after the STOP: its rows of the household are suppressed.
    assert {row.state for row in final.values() if row.lease_owner is None and row.customer_id in household
            and row.episode_key.endswith(":e2")} == {"suppressed"}
    assert {final[r.message_id].state for r in rows_of["sender-b"] if r.customer_id not in household} == {"sent"}


def test_an_upstream_opt_out_projected_while_a_chunk_decides_is_ordered_too(migrated):
    # The shop's own system says "no service e-mail" in a customer.profile event; the projection
    # writes that flag to the customer row, which the send verdict reads where the store is silent.
    import json
    from types import SimpleNamespace

    from infra.stream_app import EVENTS
    from signals.projection import Projection

    customers = _customers(migrated, 3)
    target = customers[1]
    profile = {"event_id": "upstream-opt-out", "type": "customer.profile", "customer_id": target,
               "occurred_at": NOW.isoformat(), "properties": {"consent": {"email_service": False}}}
    other = make_engine(migrated.url)
    monitor = make_engine(migrated.url)
    order: list[str] = []
    sender_thread = threading.get_ident()

    @event.listens_for(migrated, "commit")
    def note_commit(conn):  # the chunk's commit: the sender thread's first after the hook fired
        if threading.get_ident() == sender_thread and fired and "chunk" not in order:
            order.append("chunk")

    def project() -> None:
        Projection(other, "127.0.0.1:1").store([SimpleNamespace(topic=EVENTS, value=json.dumps(profile).encode())])
        order.append("projection")

    background, start_projection = _racing_the_chunk(project, monitor, "the projection")
    fired = _after_consent_read(migrated, start_projection)
    provider = Recorder()
    try:
        _sender(migrated, provider).run_once(NOW)
        background[0].finished()
    finally:
        event.remove(migrated, "commit", note_commit)
        other.dispose()
        monitor.dispose()
    assert fired
    if f"{target}@example.com" in {call.to for call in provider.calls}:
        # Decided before the opt-out: the chunk's commit must come before the projection's.
        assert order.index("chunk") < order.index("projection"), f"sent after the upstream opt-out: {order}"
    else:
        assert _rows(migrated)[target].state == "suppressed"
