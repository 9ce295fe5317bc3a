"""The sender: claims outbox rows, drafts them, re-checks consent, and sends each at most once.

Order per row: moment expired, rule paused, or the customer's reply escalated (a person handles
them now; ``triggers.policy.escalation``)? -> draft (stored before anything goes out) -> approval
if the rule asks -> consent re-checked against the store -> rate limit -> state ``sending``
COMMITTED -> provider call -> result recorded. A sender that dies after the commit of ``sending``
leaves the row there; ``reconcile`` later asks the provider (when its API can find our message id)
or holds the row for review. It never sends it again blindly.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from infra.settings import OutboxSettings, development_default_secrets
from outreach.channels.base import Channel, LookupUnsupported, OutgoingMessage, SendError, SendResult
from outreach.channels.rate_limit import TokenBucket
from outreach.consent.contact_points import InvalidContactPoint
from outreach.consent.service import (
    ConsentChange,
    check_send,
    contact_point,
    record_consent,
    register_contact_point,
    suppress,
)
from outreach.conversations.escalations import escalations_on
from outreach.conversations.records import ANSWER_RULE_ID
from outreach.drafting.brief import PrivateFacts
from outreach.drafting.compose import ComposedMessage
from outreach.drafting.stored_facts import contact_details, with_snapshot
from outreach.outbox import service as outbox
from outreach.outbox.backoff import retry_delay
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
from outreach.reputation import pause_of
from infra.transient import is_transient
from outreach.tokens import PREFERENCES, UNSUBSCRIBE, make_token, preferences_url, unsubscribe_url
from signals.records import CustomerRecord
from triggers.decision import Decision
from triggers.policy.escalation import escalation_verdict

log = logging.getLogger(__name__)

# A row whose customer is not in SQL yet (the projection lags, or the database was down when the
# profile arrived) waits for it; neither is a reason to give the message up before its moment passes.
WAITING_FOR_CUSTOMER = "waiting for the customer record (projection lagging or database down)"
CUSTOMER_NEVER_ARRIVED = ("expired: no customer record arrived before the moment passed "
                          "(projection lagging or database down)")


def customer_wait_delay(waited: dt.timedelta) -> dt.timedelta:
    """How long a row waits before looking for its customer again: half the time waited so far, 1 s to 5 min.

    >>> customer_wait_delay(dt.timedelta(0)), customer_wait_delay(dt.timedelta(minutes=1))
    (datetime.timedelta(seconds=1), datetime.timedelta(seconds=30))
    """
    return min(max(waited / 2, dt.timedelta(seconds=1)), dt.timedelta(minutes=5))


def expiry_reason(row: OutboxRecord) -> str:
    """Why a row whose moment passed is suppressed: plain "expired", or that its customer never arrived."""
    return CUSTOMER_NEVER_ARRIVED if row.last_error == WAITING_FOR_CUSTOMER else "expired"


class Compose(Protocol):
    """The drafting port (``outreach.drafting.compose.Composer``): one decision in, its message out."""

    def __call__(self, decision: Decision, *, private: PrivateFacts, unsubscribe_url: str | None,
                 preferences_url: str | None = None) -> ComposedMessage:
        """Draft the message of ``decision``; ``private`` are contact details it must not contain."""
        ...


@dataclass(frozen=True)
class SenderConfig:
    """How the sender behaves; ``from_settings`` reads it from the outbox settings."""

    unsubscribe_secret: bytes
    contact_hash_key: bytes
    public_base_url: str = "http://127.0.0.1:8000"
    max_attempts: int = 5
    lease: dt.timedelta = dt.timedelta(seconds=120)
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    marketing_email_requires_opt_in: bool = False
    customer_wait: dt.timedelta = dt.timedelta(days=1)  # how long a row without expiry waits for its customer
    transient_retry: dt.timedelta = dt.timedelta(seconds=5)  # a row hit by a database error is due again after
    escalation_pause: dt.timedelta = dt.timedelta(hours=72)  # after a complaint, only a person's answers go out
    concurrency: int = 8  # provider calls in flight at once per pass (database writes stay in one thread)

    @classmethod
    def from_settings(cls, settings: OutboxSettings) -> "SenderConfig":
        """The config the settings describe; refuses the development secrets outside development."""
        placeholders = development_default_secrets(settings)
        if placeholders and settings.environment != "development":
            raise ValueError(f"set RETAIN_{placeholders[0].upper()} (the development default is public)")
        return cls(
            unsubscribe_secret=settings.unsubscribe_secret.get_secret_value().encode(),
            contact_hash_key=settings.contact_hash_key.get_secret_value().encode(),
            public_base_url=settings.public_base_url,
            max_attempts=settings.outbox_max_attempts,
            lease=dt.timedelta(seconds=settings.outbox_lease_seconds),
            marketing_email_requires_opt_in=settings.marketing_email_requires_opt_in,
            escalation_pause=dt.timedelta(hours=settings.escalation_pause_hours),
            concurrency=settings.outbox_send_concurrency,
        )


@dataclass
class SendReport:
    """What one pass did, by final state, plus consent changes to publish after the commit."""

    counts: dict[str, int] = field(default_factory=dict)
    consent_changes: list[ConsentChange] = field(default_factory=list)

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

    def run_once(self, now: dt.datetime, *, limit: int = 20) -> SendReport:
        """Reconcile rows of dead senders, then claim and process up to ``limit`` due rows.

        Every database write happens in this thread, row by row; only the provider calls of rows
        already committed as ``sending`` overlap, up to ``config.concurrency`` at a time (a provider
        answering in 20 ms caps one-at-a-time sending at 50 messages/s).
        """
        report = SendReport()
        self.reconcile(now, report)
        with Session(self.engine, expire_on_commit=False) as session:
            rows = outbox.claim(session=session, owner=self.owner, now=now, lease=self.config.lease, limit=limit)
            session.commit()
        if self.config.concurrency <= 1 or len(rows) <= 1:
            for row in rows:
                flight = self._guarded(row, now, report, self._prepare)
                if flight is not None:
                    self._guarded(row, now, report, lambda r, n, rep: self._land(flight, n, rep, flight.call()))
            return report
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="outbox-send") as pool:
            futures: dict[Future[Any], _Flight] = {}
            for row in rows:
                flight = self._guarded(row, now, report, self._prepare)
                if flight is not None:
                    futures[pool.submit(flight.call)] = flight
            for future in as_completed(futures):
                flight = futures[future]
                self._guarded(flight.row, now, report, lambda r, n, rep: self._land(flight, n, rep, future.result()))
        return report

    def _guarded(self, row: OutboxRecord, now: dt.datetime, report: SendReport, step: Callable[..., Any]) -> Any:
        """Run one row's step, isolated: the row keeps its state (and lease) for reconcile on an error."""
        try:
            return step(row, now, report)
        except Exception as exc:  # noqa: BLE001 - one row's failure never stops the others
            if is_transient(exc):
                self._retry_later(row, now, exc)
                return None
            log.exception("sending message %s failed unexpectedly; left in state for reconcile", row.message_id)
            return None

    def _retry_later(self, row: OutboxRecord, now: dt.datetime, exc: BaseException) -> None:
        """A database error is nobody's verdict on the message: give the row back, due again soon."""
        log.warning("message %s: %s; tried again later", row.message_id, type(exc).__name__)
        try:
            with Session(self.engine) as session:
                outbox.postpone(session=session, message_id=row.message_id, owner=self.owner,
                                until=now + self.config.transient_retry, now=now)
                session.commit()
        except Exception:  # noqa: BLE001 - still down: the lease runs out and the row is claimed again
            log.warning("message %s keeps its lease until it runs out", row.message_id)

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

    def _draft(self, session: Session, row: OutboxRecord, now: dt.datetime) -> None:
        decision = with_snapshot(session=session, decision=Decision.from_dict(row.decision))
        secret = self.config.unsubscribe_secret
        unsubscribe = make_token(secret, purpose=UNSUBSCRIBE, customer_id=row.customer_id, now=now,
                                 channel=row.channel, topic=row.topic, message_id=row.message_id)
        preferences = make_token(secret, purpose=PREFERENCES, customer_id=row.customer_id, now=now)
        unsubscribe_link = unsubscribe_url(self.config.public_base_url, unsubscribe)
        message = self.compose(
            decision, private=contact_details(session=session, customer_id=row.customer_id) or PrivateFacts(),
            unsubscribe_url=unsubscribe_link, preferences_url=preferences_url(self.config.public_base_url, preferences),
        )
        rendered = {**message.to_record(), "unsubscribe_url": unsubscribe_link}
        if not message.passed:
            # Even the template fallback failed a guardrail: a person looks at it, nothing goes out.
            state = HELD_FOR_REVIEW
        else:
            state = AWAITING_APPROVAL if row.requires_approval else DRAFTED
        subject, body = message.subject, message.text
        if not outbox.transition(session=session, message_id=row.message_id, now=now, state=state, owner=self.owner,
                                 release=state == AWAITING_APPROVAL, subject=subject, body=body, rendered=rendered):
            raise LeaseLost(row.message_id)  # a stalled sender's stale row: never put a sent row back to drafted
        row.state, row.subject, row.body, row.rendered = state, subject, body, rendered

    def _escalated(self, session: Session, row: OutboxRecord, now: dt.datetime) -> str | None:
        """Why an automated message must not go out now that the customer's reply escalated, or None.

        The decision-time policy step, applied again to messages queued, drafted or awaiting
        approval before the reply came in. A person's answer is what the pause is for: it goes out.
        """
        if row.rule_id == ANSWER_RULE_ID:
            return None
        verdict = escalation_verdict(row.customer_id, escalations_on(session), now, self.config.escalation_pause)
        return None if verdict is None else f"{verdict[0].value}: {verdict[1]}"

    def _address(self, session: Session, row: OutboxRecord, now: dt.datetime) -> tuple[str | None, str | None]:
        point = contact_point(session=session, customer_id=row.customer_id, channel=row.channel)
        if point is not None and point.address:
            return point.address, point.contact_hash
        if point is not None:  # erased: the hash still answers for suppressions
            return None, point.contact_hash
        customer = session.get(CustomerRecord, row.customer_id)
        address = (customer.email if row.channel == "email" else customer.phone) if customer else None
        if not address:
            return None, None
        try:
            hashed = register_contact_point(session=session, key=self.config.contact_hash_key,
                                            customer_id=row.customer_id, channel=row.channel, address=address, now=now)
        except InvalidContactPoint:
            return None, None
        return address, hashed

    def _finish(self, session: Session, row: OutboxRecord, now: dt.datetime, state: str, report: SendReport,
                **values: Any) -> None:
        outbox.transition(session=session, message_id=row.message_id, now=now, state=state, **values)
        session.commit()
        report.add(state)

    def _prepare(self, row: OutboxRecord, now: dt.datetime, report: SendReport) -> "_Flight | None":
        """Every check, the draft and the ``sending`` commit; the provider call it leads to, or None."""
        with Session(self.engine, expire_on_commit=False) as session:
            if row.expires_at is not None and row.expires_at <= now:
                return self._finish(session, row, now, SUPPRESSED, report, last_error=expiry_reason(row))
            pause = pause_of(session=session, rule_id=row.rule_id)
            if pause is not None:
                return self._finish(session, row, now, SUPPRESSED, report, last_error=f"rule paused: {pause.reason}")
            escalated = self._escalated(session, row, now)
            if escalated is not None:
                return self._finish(session, row, now, SUPPRESSED, report, last_error=escalated)
            if self._customer_unknown(session, row):
                return self._wait_for_customer(session, row, now, report)
            if row.state == PENDING:
                try:
                    self._draft(session, row, now)
                except LeaseLost:
                    session.rollback()
                    log.warning("message %s: lease lost before drafting; left to its new holder", row.message_id)
                    return None
                except Exception as exc:  # the drafter has its own fallbacks; this is a bug, not a retry case
                    if is_transient(exc):
                        raise  # the database, not the draft: the row is tried again
                    session.rollback()
                    log.exception("drafting message %s failed", row.message_id)
                    return self._finish(session, row, now, FAILED, report, last_error=f"draft failed: {exc}"[:500])
                session.commit()
                if row.state in (AWAITING_APPROVAL, HELD_FOR_REVIEW):
                    report.add(row.state)
                    return None
            address, hashed = self._address(session, row, now)
            refusal = check_send(session=session, customer_id=row.customer_id, channel=row.channel, topic=row.topic,
                                 contact_hash=hashed if address else None,
                                 marketing_email_requires_opt_in=self.config.marketing_email_requires_opt_in)
            if refusal is not None:
                return self._finish(session, row, now, SUPPRESSED, report, last_error=refusal, recipient_hash=hashed)
            channel = self.channels.get(row.channel)
            if channel is None:
                return self._finish(session, row, now, FAILED, report, last_error=f"no channel {row.channel!r}")
            limiter = self.limiters.get(row.channel)
            wait = limiter.try_acquire() if limiter is not None else 0.0
            if wait > 0:  # not now: give the row back, due when the bucket refills
                outbox.transition(session=session, message_id=row.message_id, now=now, state=row.state,
                                  next_attempt_at=now + dt.timedelta(seconds=wait))
                session.commit()
                return None
            # The point of no return: committed BEFORE the provider call, so a crash cannot re-send. Only
            # while this sender still holds the row: one whose lease ran out may be another's by now.
            if not outbox.start_sending(session=session, message_id=row.message_id, owner=self.owner, now=now,
                                        recipient_hash=hashed, provider=getattr(channel, "provider", None),
                                        attempts=row.attempts + 1):
                session.rollback()
                log.warning("message %s: lease lost before sending; left to its new holder", row.message_id)
                return None
            session.commit()
            message = OutgoingMessage(
                message_id=row.message_id, channel=row.channel, to=address, topic=row.topic, rule_id=row.rule_id,
                body=row.body or "", subject=row.subject, html=(row.rendered or {}).get("html"),
                unsubscribe_url=(row.rendered or {}).get("unsubscribe_url"),
                status_callback_url=f"{self.config.public_base_url.rstrip('/')}/outreach/twilio/status",
                headers=dict((row.rendered or {}).get("headers") or {}),  # an answer's In-Reply-To / References
            )
            return _Flight(row=row, channel=channel, message=message, hashed=hashed)

    def _land(self, flight: "_Flight", now: dt.datetime, report: SendReport,
              outcome: "SendResult | SendError") -> None:
        """Record what the provider answered (written by the thread that claimed the row)."""
        row = flight.row
        with Session(self.engine, expire_on_commit=False) as session:
            if isinstance(outcome, SendError):
                return self._failed(session, row, now, outcome, flight.hashed, report)
            return self._finish(session, row, now, SENT, report, sent_at=now, provider=outcome.provider,
                                provider_message_id=outcome.provider_message_id, provider_status=outcome.status,
                                last_error=None)

    @staticmethod
    def _customer_unknown(session: Session, row: OutboxRecord) -> bool:
        """No contact point and no customer row: the customer has not reached SQL yet (or was never there)."""
        return (contact_point(session=session, customer_id=row.customer_id, channel=row.channel) is None
                and session.get(CustomerRecord, row.customer_id) is None)

    def _wait_for_customer(self, session: Session, row: OutboxRecord, now: dt.datetime, report: SendReport) -> None:
        deadline = row.expires_at or row.created_at + self.config.customer_wait
        if deadline <= now:
            return self._finish(session, row, now, SUPPRESSED, report, last_error=CUSTOMER_NEVER_ARRIVED)
        due = min(now + customer_wait_delay(now - row.created_at), deadline)
        outbox.postpone(session=session, message_id=row.message_id, owner=self.owner, until=due, now=now,
                        reason=WAITING_FOR_CUSTOMER)
        session.commit()
        return None

    def _failed(self, session: Session, row: OutboxRecord, now: dt.datetime, exc: SendError, hashed: str | None,
                report: SendReport) -> None:
        attempts = row.attempts + 1
        error = f"{exc} [{exc.code}]"
        if exc.opted_out:
            # The carrier knows the person replied STOP: record it, so no later send even tries.
            change = record_consent(session=session, customer_id=row.customer_id, channel=row.channel, topic="*",
                                    status="opted_out", source=f"{getattr(self.channels[row.channel], 'provider', '')}"
                                    f":{exc.code}", changed_at=now, evidence={"message_id": row.message_id},
                                    contact_hash=hashed)
            if hashed:
                suppress(session=session, contact_hash=hashed, channel=row.channel, reason="carrier_opt_out",
                         source=f"provider:{exc.code}", now=now)
            report.consent_changes.append(change)
            return self._finish(session, row, now, SUPPRESSED, report, last_error=error)
        if exc.uncertain:
            return self._finish(session, row, now, HELD_FOR_REVIEW, report, last_error=f"uncertain: {error}")
        if exc.retryable and attempts < self.config.max_attempts:
            delay = retry_delay(attempts, retry_after=exc.retry_after, base=self.config.backoff_base_seconds,
                                cap=self.config.backoff_cap_seconds, rng=self.rng)
            outbox.transition(session=session, message_id=row.message_id, now=now, state=DRAFTED,
                              next_attempt_at=now + dt.timedelta(seconds=delay), last_error=error)
            session.commit()
            report.add("retry")
            return None
        return self._finish(session, row, now, FAILED, report, last_error=error)


class LeaseLost(Exception):
    """This sender's lease on a row ran out and another sender holds (or finished) it."""


@dataclass(frozen=True)
class _Flight:
    """A row committed as ``sending`` and the provider call that sends it (the only part run in a pool)."""

    row: OutboxRecord
    channel: Channel
    message: OutgoingMessage
    hashed: str | None

    def call(self) -> "SendResult | SendError":
        """The provider call; a ``SendError`` is returned as the answer it is, anything else raises."""
        try:
            return self.channel.send(self.message)
        except SendError as exc:
            return exc
