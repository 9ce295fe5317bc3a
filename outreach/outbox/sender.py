"""The sender: claims outbox rows, drafts them, re-checks consent, and sends each at most once.

A pass claims due rows and works through them in chunks (``SenderConfig.chunk``, two pool-fuls):

1. reads what the checks need for the whole chunk in a few set-based queries (paused rules,
   escalations, contact points, customers); ``send_verdicts.early_verdict`` settles the rows whose
   moment expired, whose rule is paused or whose customer's reply escalated (a person handles
   them now; ``triggers.policy.escalation``), and gives back those whose customer is not in SQL yet;
2. drafts each remaining pending row in memory (``compose``; tokens per row); approval or a
   guardrail that even the fallback failed stops the row here;
3. ONE transaction: on PostgreSQL the shared consent locks of its customers and contact points
   (``outreach.consent.locks``: an opt-out commits before the consent read or after this commit) ->
   ``outbox.hold`` (an UPDATE: the lease guard, and SQLite's write lock) -> the last
   reads: contact points, customers, consent rows and suppressions of the chunk -> per row the
   consent verdict, the channel, the rate limit -> drafts, final states and ``sending`` written ->
   COMMIT, before any provider call, so a crash cannot re-send;
4. only then the provider calls of the rows committed as ``sending``, at most ``concurrency`` at a
   time in a thread pool, while this thread goes on with the next chunk's database work;
5. the answers, recorded in bulk by this thread per group of finished calls.

Every write happens in the claiming thread, and only to rows this sender still holds: a row whose
lease was lost (another sender holds or finished it) is left alone. A database error gives the
chunk back (due again after ``transient_retry``), never a final state; any other error in a chunk
is retried row by row, so one row cannot take the others down. A sender that dies after the commit
of ``sending`` leaves the row there; ``reconcile`` later asks the provider (when its API can find
our message id) or holds the row for review. It never sends it again blindly.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import Engine
from sqlmodel import Session

from infra.transient import is_transient
from outreach.channels.base import Channel, LookupUnsupported, OutgoingMessage, SendError
from outreach.channels.rate_limit import TokenBucket
from outreach.consent import locks
from outreach.consent.service import (
    ConsentChange,
    contact_points_of,
    record_consent,
    register_contact_points,
    stored_states_of,
    suppress,
    suppressions_of,
)
from outreach.conversations.escalations import latest_escalations
from outreach.conversations.records import ANSWER_RULE_ID
from outreach.drafting.brief import PrivateFacts
from outreach.drafting.compose import ComposedMessage
from outreach.drafting.stored_facts import private_facts, snapshot_from
from outreach.outbox import service as outbox
from outreach.outbox.records import (
    AWAITING_APPROVAL,
    DRAFTED,
    FAILED,
    HELD_FOR_REVIEW,
    PENDING,
    SENDING,
    SENT,
    SUPPRESSED,
    OutboxRecord,
)
from outreach.outbox.send_verdicts import (
    ChunkFacts,
    Recipient,
    RowWrite,
    consent_verdict,
    early_verdict,
    given_back,
    landing_of,
    recipient_of,
    settled,
)
from outreach.outbox.provider_calls import Answer, Flight, ProviderCalls
from outreach.outbox.sender_config import SenderConfig
from outreach.reputation import pauses_of
from outreach.tokens import PREFERENCES, UNSUBSCRIBE, make_token, preferences_url, unsubscribe_url
from signals.service import customers_by_id, signals_by_id
from triggers.decision import Decision

__all__ = ["Compose", "SendReport", "Sender", "SenderConfig"]

log = logging.getLogger(__name__)


class Compose(Protocol):
    """The drafting port (``outreach.drafting.compose.Composer``): one decision in, its message out."""

    def __call__(self, decision: Decision, *, private: PrivateFacts, unsubscribe_url: str | None,
                 preferences_url: str | None = None) -> ComposedMessage:
        """Draft the message of ``decision``; ``private`` are contact details it must not contain."""
        ...


@dataclass
class SendReport:
    """What one pass did, by final state, plus consent changes to publish after the commit."""

    counts: dict[str, int] = field(default_factory=dict)
    consent_changes: list[ConsentChange] = field(default_factory=list)
    claimed: int = 0  # due rows this pass claimed (a full batch: more may be waiting)

    def add(self, state: str) -> None:
        """Count one row that reached ``state``."""
        self.counts[state] = self.counts.get(state, 0) + 1


class Sender:
    """Sends due outbox rows through the channels; one instance per process, many processes allowed."""

    def __init__(
        self, engine: Engine, *, channels: Mapping[str, Channel], compose: Compose, config: SenderConfig,
        limiters: Mapping[str, TokenBucket] | None = None, owner: str | None = None,
        rng: random.Random | None = None,
    ):
        self.engine = engine
        self.channels = dict(channels)
        self.compose = compose
        self.config = config
        self.limiters = dict(limiters or {})
        self.owner = owner or f"sender-{uuid.uuid4().hex[:12]}"
        self.rng = rng or random.Random()
        self._unrecorded: list[Answer] = []  # provider answers a database error kept from being recorded

    def run_once(self, now: dt.datetime, *, limit: int = 20) -> SendReport:
        """Record answers kept from an earlier pass, reconcile rows of dead senders, then claim and send."""
        report = SendReport()
        kept, self._unrecorded = self._unrecorded, []
        self._record(kept, report)  # before reconcile: they are this sender's, still in ``sending``
        self.reconcile(now, report)
        with Session(self.engine, expire_on_commit=False) as session:
            rows = outbox.claim(session=session, owner=self.owner, now=now, lease=self.config.lease, limit=limit)
            session.commit()
        report.claimed = len(rows)
        self.send_claimed(rows, now, report)
        return report

    def send_claimed(self, rows: list[OutboxRecord], now: dt.datetime, report: SendReport) -> None:
        """Check, draft and send rows this sender claimed, chunk by chunk (see the module docstring).

        While a pool-ful of calls is in flight this thread writes the next chunk: with a provider
        answering in 20 ms, one call at a time caps sending at 50 messages/s.
        """
        size = self.config.chunk
        with ProviderCalls(self.config.concurrency if len(rows) > 1 else 1) as calls:
            for start in range(0, len(rows), size):
                for flight in self._advance(rows[start:start + size], now, report):
                    calls.start(flight)
                # Wait until a chunk's worth of calls is left: they keep the pool busy while this
                # thread writes the next chunk, and no more rows than that wait as ``sending``.
                self._record(calls.answers(keep=size, at=now), report)
            self._record(calls.answers(keep=0, at=now), report)

    def _advance(self, rows: list[OutboxRecord], now: dt.datetime, report: SendReport) -> list[Flight]:
        """Bring a chunk up to its provider calls; a database error gives it back, any other is isolated per row."""
        try:
            return self._advance_chunk(rows, now, report)
        except Exception as exc:  # noqa: BLE001 - one row's failure never stops the others
            if is_transient(exc):
                self._give_back(rows, now, exc)
                return []
            if len(rows) == 1:
                log.exception("message %s failed unexpectedly; left until its lease runs out", rows[0].message_id)
                return []
            log.exception("a chunk of %d messages failed unexpectedly; each is tried on its own", len(rows))
            return self._advance_one_by_one(rows, now, report)

    def _advance_one_by_one(self, rows: list[OutboxRecord], now: dt.datetime, report: SendReport) -> list[Flight]:
        """Each row of a failed chunk on its own; a row that fails while others go through is failed for good.

        Its chunk-mates prove the path works, so the error is the row's own (a draft the database
        refuses, say): retrying it after every lease would only break its chunk again. When every
        row fails, the fault is not theirs: they keep their state until their leases run out.
        """
        flights: list[Flight] = []
        broken: list[tuple[OutboxRecord, Exception]] = []
        for row in rows:
            try:
                flights += self._advance_chunk([row], now, report)
            except Exception as exc:  # noqa: BLE001 - one row's failure never stops the others
                if is_transient(exc):
                    self._give_back([row], now, exc)
                else:
                    broken.append((row, exc))
        for row, exc in broken:
            log.error("message %s failed unexpectedly on its own", row.message_id, exc_info=exc)
        if broken and len(broken) < len(rows):
            self._settle_broken(broken, now, report)
        return flights

    def _settle_broken(self, broken: list[tuple[OutboxRecord, Exception]], now: dt.datetime,
                       report: SendReport) -> None:
        try:
            with Session(self.engine) as session:
                held = outbox.hold(session=session, message_ids=[row.message_id for row, _ in broken],
                                   owner=self.owner, now=now)
                writes = {row.message_id: settled(FAILED, last_error=f"unexpected: {type(exc).__name__}: {exc}"[:500])
                          for row, exc in broken if row.message_id in held}
                outbox.write_rows(session=session, owner=self.owner,
                                  rows={message_id: write.columns(now) for message_id, write in writes.items()})
                session.commit()
        except Exception:  # noqa: BLE001 - the rows keep their state until their leases run out
            log.exception("%d broken message(s) keep their lease until it runs out", len(broken))
            return
        for _ in writes:
            report.add(FAILED)

    def _advance_chunk(self, rows: list[OutboxRecord], now: dt.datetime, report: SendReport) -> list[Flight]:
        facts, decisions = self._read_facts(rows, now)
        writes: dict[str, RowWrite] = {}
        drafts: dict[str, _Draft] = {}
        ready: list[OutboxRecord] = []
        for row in rows:
            verdict = early_verdict(row, facts, now=now, config=self.config)
            if verdict is None and row.state == PENDING:
                drafted = self._draft(row, facts, decisions.get(row.message_id), now)
                if isinstance(drafted, RowWrite):
                    verdict = drafted
                else:
                    drafts[row.message_id] = drafted
                    verdict = None if drafted.state == DRAFTED else settled(drafted.state)
            if verdict is None:
                ready.append(row)
            else:
                writes[row.message_id] = verdict
        with Session(self.engine, expire_on_commit=False) as session:
            locked = self._lock_consent(session, ready, facts)
            held = outbox.hold(session=session, message_ids=[row.message_id for row in rows], owner=self.owner, now=now)
            for row in rows:
                if row.message_id not in held:
                    log.warning("message %s: lease lost; left to its new holder", row.message_id)
            flights = self._route(session, [row for row in ready if row.message_id in held], drafts, writes, now,
                                  locked)
            columns = {message_id: {**(drafts[message_id].values() if message_id in drafts else {}),
                                    **write.columns(now)}
                       for message_id, write in writes.items() if message_id in held}
            outbox.write_rows(session=session, owner=self.owner, rows=columns)
            session.commit()
        for message_id, write in writes.items():
            if message_id in held and write.counted:
                report.add(write.counted)
        return flights

    def _lock_consent(self, session: Session, rows: list[OutboxRecord], facts: ChunkFacts) -> set[str]:
        """The chunk's shared consent locks, its transaction's first statement; the contact hashes locked.

        An opt-out of these customers or contact points then commits before the consent read in
        ``_route`` (seen) or after this chunk's commit (``outreach.consent.locks``). Taken before
        ``hold``, so a writer this waits for never waits for a row this holds. The hashes are those
        of the chunk's earlier reads; ``_route`` locks any that changed since.
        """
        if not rows or not locks.applies(session):
            return set()
        hashes = {recipient_of(row.channel, facts.contact_points.get((row.customer_id, row.channel)),
                               facts.customers.get(row.customer_id), self.config.contact_hash_key).contact_hash
                  for row in rows} - {None}
        locks.lock_for_send(session, customer_ids={row.customer_id for row in rows}, contact_hashes=hashes)
        return cast(set[str], hashes)

    def _read_facts(self, rows: list[OutboxRecord], now: dt.datetime) -> tuple[ChunkFacts, dict[str, Decision]]:
        """What the checks and drafts of a chunk read, one query per table; the pending rows' decisions."""
        decisions: dict[str, Decision] = {}
        for row in rows:
            if row.state == PENDING:
                try:
                    decisions[row.message_id] = Decision.from_dict(row.decision)
                except ValueError:  # drafting parses it again and records why it failed
                    pass
        customer_ids = {row.customer_id for row in rows}
        with Session(self.engine, expire_on_commit=False) as session:
            facts = ChunkFacts(
                paused=pauses_of(session=session, rule_ids={row.rule_id for row in rows}),
                escalations=latest_escalations(session=session, now=now, customer_ids={
                    row.customer_id for row in rows if row.rule_id != ANSWER_RULE_ID}),
                contact_points=contact_points_of(session=session, customer_ids=customer_ids),
                customers=customers_by_id(session=session, customer_ids=customer_ids),
                signals=signals_by_id(session=session, signal_ids={
                    decision.signal_id for decision in decisions.values() if decision.snapshot is None}),
            )
        return facts, decisions

    def _draft(self, row: OutboxRecord, facts: ChunkFacts, decision: Decision | None,
               now: dt.datetime) -> "_Draft | RowWrite":
        """The row's draft; or, when drafting failed, the row given back (database error) or failed."""
        try:
            decision = decision or Decision.from_dict(row.decision)
            customer = facts.customers.get(decision.customer_id)
            decision = snapshot_from(decision, facts.signals.get(decision.signal_id),
                                     customer._mapping if customer is not None else None)
            secret = self.config.unsubscribe_secret
            unsubscribe = make_token(secret, purpose=UNSUBSCRIBE, customer_id=row.customer_id, now=now,
                                     channel=row.channel, topic=row.topic, message_id=row.message_id)
            preferences = make_token(secret, purpose=PREFERENCES, customer_id=row.customer_id, now=now)
            unsubscribe_link = unsubscribe_url(self.config.public_base_url, unsubscribe)
            message = self.compose(
                decision, private=private_facts(facts.customers.get(row.customer_id)) or PrivateFacts(),
                unsubscribe_url=unsubscribe_link,
                preferences_url=preferences_url(self.config.public_base_url, preferences),
            )
        except Exception as exc:  # noqa: BLE001 - the drafter has its own fallbacks; this is a bug, not a retry case
            if is_transient(exc):  # the database, not the draft: the row is tried again
                log.warning("message %s: %s while drafting; tried again later", row.message_id, type(exc).__name__)
                return given_back(row.state, now + self.config.transient_retry)
            log.exception("drafting message %s failed", row.message_id)
            return settled(FAILED, last_error=f"draft failed: {exc}"[:500])
        # Even the template fallback failed a guardrail: a person looks at it, nothing goes out.
        state = HELD_FOR_REVIEW if not message.passed else AWAITING_APPROVAL if row.requires_approval else DRAFTED
        rendered = {**message.to_record(), "unsubscribe_url": unsubscribe_link}
        return _Draft(state, message.subject, message.text, rendered)

    def _route(self, session: Session, rows: list[OutboxRecord], drafts: Mapping[str, "_Draft"],
               writes: dict[str, RowWrite], now: dt.datetime, locked: set[str]) -> list[Flight]:
        """Inside the chunk's transaction: the last reads, then each ready row refused, failed, given back or sending."""
        customer_ids = {row.customer_id for row in rows}
        points = contact_points_of(session=session, customer_ids=customer_ids)
        customers = customers_by_id(session=session, customer_ids=customer_ids)
        recipients = {row.message_id: recipient_of(row.channel, points.get((row.customer_id, row.channel)),
                                                   customers.get(row.customer_id), self.config.contact_hash_key)
                      for row in rows}
        # An address changed since the chunk's reads: its lock too, before the suppressions are read.
        locks.lock_for_send(session, contact_hashes={r.contact_hash for r in recipients.values()} - locked)
        stored = stored_states_of(session=session, customer_ids=customer_ids)
        suppressions = suppressions_of(session=session, contact_hashes={
            r.contact_hash for r in recipients.values() if r.address and r.contact_hash})
        register_contact_points(session=session, now=now, points=[
            (row.customer_id, row.channel, r.address, r.contact_hash)
            for row in rows if (r := recipients[row.message_id]).new])
        flights = []
        for row in rows:
            recipient = recipients[row.message_id]
            refusal = consent_verdict(
                row, recipient, stored=stored.get((row.customer_id, row.channel), {}),
                customer=customers.get(row.customer_id),
                suppression=suppressions.get((recipient.contact_hash, row.channel)),
                marketing_email_requires_opt_in=self.config.marketing_email_requires_opt_in)
            channel = self.channels.get(row.channel)
            limiter = self.limiters.get(row.channel)
            if refusal is not None:
                writes[row.message_id] = settled(SUPPRESSED, last_error=refusal, recipient_hash=recipient.contact_hash)
            elif channel is None:
                writes[row.message_id] = settled(FAILED, last_error=f"no channel {row.channel!r}")
            elif limiter is not None and (wait_seconds := limiter.try_acquire()) > 0:
                # Not now: give the row back, due when the bucket refills.
                writes[row.message_id] = given_back(DRAFTED if row.message_id in drafts else row.state,
                                                    now + dt.timedelta(seconds=wait_seconds))
            else:
                writes[row.message_id] = RowWrite(SENDING, {
                    "recipient_hash": recipient.contact_hash, "provider": getattr(channel, "provider", None),
                    "attempts": row.attempts + 1})
                flights.append(Flight(row, channel, self._message(row, drafts.get(row.message_id), recipient),
                                       recipient.contact_hash))
        return flights

    def _message(self, row: OutboxRecord, draft: "_Draft | None", recipient: Recipient) -> OutgoingMessage:
        subject, body, rendered = (draft.subject, draft.body, draft.rendered) if draft else (
            row.subject, row.body, row.rendered or {})
        return OutgoingMessage(
            message_id=row.message_id, channel=row.channel, to=recipient.address, topic=row.topic,
            rule_id=row.rule_id, body=body or "", subject=subject, html=rendered.get("html"),
            unsubscribe_url=rendered.get("unsubscribe_url"),
            status_callback_url=f"{self.config.public_base_url.rstrip('/')}/outreach/twilio/status",
            headers=dict(rendered.get("headers") or {}),  # an answer's In-Reply-To / References
        )

    def _give_back(self, rows: list[OutboxRecord], now: dt.datetime, exc: BaseException) -> None:
        """A database error is nobody's verdict on the messages: give the rows back, due again soon."""
        log.warning("%d message(s): %s; tried again later", len(rows), type(exc).__name__)
        try:
            with Session(self.engine) as session:
                outbox.give_back(session=session, message_ids=[row.message_id for row in rows], owner=self.owner,
                                 until=now + self.config.transient_retry, now=now)
                session.commit()
        except Exception:  # noqa: BLE001 - still down: the leases run out and the rows are claimed again
            log.warning("%d message(s) keep their lease until it runs out", len(rows))

    def _record(self, answers: list[Answer], report: SendReport) -> None:
        """Record provider answers in one transaction; kept for a later pass on a database error."""
        if not answers:
            return
        try:
            self._record_all(answers, report)
        except Exception as exc:  # noqa: BLE001 - one row's failure never stops the others
            if is_transient(exc):
                log.warning("%d provider answer(s) not recorded (%s); recorded on a later pass",
                            len(answers), type(exc).__name__)
                self._unrecorded.extend(answers)
            elif len(answers) == 1:
                log.exception("recording the answer for message %s failed; left in sending for reconcile",
                              answers[0].flight.row.message_id)
            else:
                for answer in answers:
                    self._record([answer], report)

    def _record_all(self, answers: list[Answer], report: SendReport) -> None:
        changes, counted, columns = [], [], {}
        with Session(self.engine, expire_on_commit=False) as session:
            # The carrier opt-outs' locks, all at once before ``hold`` (``outreach.consent.locks``: no deadlock).
            stopped = [a.flight for a in answers if isinstance(a.outcome, SendError) and a.outcome.opted_out]
            locks.lock_for_opt_out(session, customer_ids=[flight.row.customer_id for flight in stopped],
                                   contact_hashes=[flight.hashed for flight in stopped])
            ours = outbox.hold(session=session, message_ids=[a.flight.row.message_id for a in answers],
                               owner=self.owner, now=max(a.at for a in answers), states=(SENDING,))
            for answer in answers:
                row = answer.flight.row
                if row.message_id not in ours:  # its lease ran out and another sender's reconcile settled it
                    log.warning("message %s: settled by another sender meanwhile; this answer is not recorded",
                                row.message_id)
                    continue
                landing = landing_of(row, answer.outcome, now=answer.at, config=self.config, rng=self.rng)
                if landing.opted_out:
                    changes.append(self._carrier_opt_out(session, answer))
                columns[row.message_id] = landing.write.columns(answer.at)
                counted.append(landing.write.counted)
            outbox.write_rows(session=session, owner=self.owner, rows=columns)
            session.commit()
        report.consent_changes.extend(changes)
        for state in counted:
            report.add(state)

    @staticmethod
    def _carrier_opt_out(session: Session, answer: Answer) -> ConsentChange:
        """The carrier knows the person replied STOP: record it, so no later send even tries."""
        row, error, hashed = answer.flight.row, cast(SendError, answer.outcome), answer.flight.hashed
        change = record_consent(session=session, customer_id=row.customer_id, channel=row.channel, topic="*",
                                status="opted_out", source=f"{getattr(answer.flight.channel, 'provider', '')}"
                                f":{error.code}", changed_at=answer.at, evidence={"message_id": row.message_id},
                                contact_hash=hashed)
        if hashed:
            suppress(session=session, contact_hash=hashed, channel=row.channel, reason="carrier_opt_out",
                     source=f"provider:{error.code}", now=answer.at)
        return change

    def reconcile(self, now: dt.datetime, report: SendReport | None = None) -> SendReport:
        """Settle ``sending`` rows whose sender died: ask the provider, else hold for review."""
        report = report or SendReport()
        with Session(self.engine, expire_on_commit=False) as session:
            for row in outbox.stale_sending(session=session, now=now):
                channel = self.channels.get(row.channel)
                try:
                    found = channel.lookup(row.message_id) if channel is not None else None
                except LookupUnsupported:
                    outbox.transition(session=session, message_id=row.message_id, now=now, state=HELD_FOR_REVIEW,
                                      last_error="uncertain: sender stopped after calling the provider")
                    report.add(HELD_FOR_REVIEW)
                    continue
                if found is not None:
                    outbox.transition(session=session, message_id=row.message_id, now=now, state=SENT, sent_at=now,
                                      provider=found.provider, provider_message_id=found.provider_message_id,
                                      provider_status=found.status)
                    report.add(SENT)
                else:  # the provider's own record says it never arrived: safe to send
                    outbox.transition(session=session, message_id=row.message_id, now=now, state=DRAFTED,
                                      next_attempt_at=now)
                    report.add(DRAFTED)
            session.commit()
        return report


@dataclass(frozen=True)
class _Draft:
    """A pending row's draft, written with the row's next state in the chunk's transaction."""

    state: str
    subject: str | None
    body: str
    rendered: dict[str, Any]

    def values(self) -> dict[str, Any]:
        return {"subject": self.subject, "body": self.body, "rendered": self.rendered}
