"""What the sender does with each claimed row, decided over values already read (no database, no clock).

A pass reads the facts of a chunk of rows with a few set-based queries, then decides here, row by
row: settled before drafting (moment expired, rule paused, conversation escalated, customer never
arrived) or given back (waiting for the customer)? Which address and contact hash? Refused by the
consent rule? And once the provider answered, what is recorded? Each answer is a ``RowWrite``.

>>> import datetime as dt
>>> now = dt.datetime(2026, 1, 12, 15, tzinfo=dt.timezone.utc)
>>> row = OutboxRecord(message_id="m1", customer_id="c1", rule_id="r1", channel="email", state="pending",
...                    created_at=now, expires_at=now)
>>> config = SenderConfig(unsubscribe_secret=b"u", contact_hash_key=b"h")
>>> early_verdict(row, ChunkFacts(), now=now, config=config).values["last_error"]
'expired'
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from outreach.channels.base import SendError, SendResult
from outreach.consent.contact_points import InvalidContactPoint, contact_hash
from outreach.consent.policy import deciding_states, send_verdict
from outreach.conversations.records import ANSWER_RULE_ID
from outreach.outbox.backoff import retry_delay
from outreach.outbox.records import DRAFTED, FAILED, HELD_FOR_REVIEW, SENDING, SENT, SUPPRESSED, OutboxRecord
from outreach.outbox.sender_config import SenderConfig
from signals.records import CustomerRecord, SignalRecord
from signals.service import consent_flags
from triggers.policy.consent import ConsentStatus
from triggers.policy.escalation import EscalationView, InMemoryEscalations, escalation_verdict

# A row whose customer is not in SQL yet (the projection lags, or the database was down when the
# profile arrived) waits for it; neither is a reason to give the message up before its moment passes.
WAITING_FOR_CUSTOMER = "waiting for the customer record (projection lagging or database down)"
CUSTOMER_NEVER_ARRIVED = ("expired: no customer record arrived before the moment passed "
                          "(projection lagging or database down)")
RETRY = "retry"  # what a pass reports for a row the provider asked to try again later

def customer_wait_delay(waited: dt.timedelta) -> dt.timedelta:
    """How long a row waits before looking for its customer again: half the time waited so far, 1 s to 5 min.

    >>> customer_wait_delay(dt.timedelta(0)), customer_wait_delay(dt.timedelta(minutes=1))
    (datetime.timedelta(seconds=1), datetime.timedelta(seconds=30))
    """
    return min(max(waited / 2, dt.timedelta(seconds=1)), dt.timedelta(minutes=5))


def expiry_reason(row: OutboxRecord) -> str:
    """Why a row whose moment passed is suppressed: plain "expired", or that its customer never arrived."""
    return CUSTOMER_NEVER_ARRIVED if row.last_error == WAITING_FOR_CUSTOMER else "expired"


@dataclass(frozen=True)
class RowWrite:
    """A row's next state, the columns written with it, and what the pass reports (None: nothing).

    Every state but ``sending`` frees the lease; ``sending`` keeps it until the result is recorded.
    """

    state: str
    values: Mapping[str, Any] = field(default_factory=dict)
    counted: str | None = None

    def columns(self, now: dt.datetime) -> dict[str, Any]:
        """The columns to set at ``now``."""
        lease = {} if self.state == SENDING else {"lease_owner": None, "lease_expires_at": None}
        return {"state": self.state, "updated_at": now, **lease, **self.values}


def settled(state: str, **values: Any) -> RowWrite:
    """A row that reached ``state`` in this pass (counted in the report under that state)."""
    return RowWrite(state, values, counted=state)


def given_back(state: str, until: dt.datetime, reason: str | None = None) -> RowWrite:
    """A row handed back in ``state``, due again at ``until`` (not counted: it has not moved on)."""
    values: dict[str, Any] = {"next_attempt_at": until}
    if reason is not None:
        values["last_error"] = reason
    return RowWrite(state, values)


class StoredContactPoint(Protocol):
    """A row of ``contact_points`` (the record, or a plain row of its columns)."""

    address: str | None
    contact_hash: str


class StoredCustomer(Protocol):
    """A row of ``customers`` (the record, or a plain row of its columns, consent flags included)."""

    customer_id: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class ChunkFacts:
    """What the checks before drafting and the drafts read for a chunk of rows, once for all of them."""

    paused: Mapping[str, str] = field(default_factory=dict)  # rule id -> why it is paused
    escalations: EscalationView = field(default_factory=InMemoryEscalations)
    contact_points: Mapping[tuple[str, str], StoredContactPoint] = field(default_factory=dict)  # (customer, channel)
    customers: Mapping[str, StoredCustomer] = field(default_factory=dict)
    signals: Mapping[str, SignalRecord] = field(default_factory=dict)  # of old decisions stored without a snapshot

    def customer_known(self, row: OutboxRecord) -> bool:
        """A contact point on the row's channel or a customer row: the customer has reached SQL."""
        return (row.customer_id, row.channel) in self.contact_points or row.customer_id in self.customers


def early_verdict(row: OutboxRecord, facts: ChunkFacts, *, now: dt.datetime, config: SenderConfig) -> RowWrite | None:
    """The row's fate before any draft: expired, rule paused, escalated, customer missing; None: go on.

    The escalation check is the decision-time policy step applied again to messages queued,
    drafted or awaiting approval before the reply came in; a person's answer is what the pause
    is for, so it goes out.
    """
    if row.expires_at is not None and row.expires_at <= now:
        return settled(SUPPRESSED, last_error=expiry_reason(row))
    if row.rule_id in facts.paused:
        return settled(SUPPRESSED, last_error=f"rule paused: {facts.paused[row.rule_id]}")
    if row.rule_id != ANSWER_RULE_ID:
        verdict = escalation_verdict(row.customer_id, facts.escalations, now, config.escalation_pause)
        if verdict is not None:
            return settled(SUPPRESSED, last_error=f"{verdict[0].value}: {verdict[1]}")
    if not facts.customer_known(row):
        deadline = row.expires_at or row.created_at + config.customer_wait
        if deadline <= now:
            return settled(SUPPRESSED, last_error=CUSTOMER_NEVER_ARRIVED)
        return given_back(row.state, min(now + customer_wait_delay(now - row.created_at), deadline),
                          WAITING_FOR_CUSTOMER)
    return None


@dataclass(frozen=True)
class Recipient:
    """Where a row goes: the address (None: nowhere) and its keyed hash, which answers for suppressions."""

    address: str | None
    contact_hash: str | None
    new: bool = False  # read from the customer row: stored as the contact point with the send


def recipient_of(channel: str, point: StoredContactPoint | None, customer: StoredCustomer | None,
                 key: bytes) -> Recipient:
    """The stored contact point; else the customer row's address (hashed); an erased point keeps its hash.

    >>> recipient_of("email", None, CustomerRecord(customer_id="c1", email="Ada@Example.com"), b"k").new
    True
    >>> recipient_of("sms", None, CustomerRecord(customer_id="c1", phone="not a phone"), b"k")
    Recipient(address=None, contact_hash=None, new=False)
    """
    if point is not None:
        return Recipient(point.address or None, point.contact_hash)
    address = (customer.email if channel == "email" else customer.phone) if customer is not None else None
    if not address:
        return Recipient(None, None)
    try:
        return Recipient(address, contact_hash(key, channel, address), new=True)
    except InvalidContactPoint:
        return Recipient(None, None)


def consent_verdict(row: OutboxRecord, recipient: Recipient, *, stored: Mapping[str, ConsentStatus],
                    customer: StoredCustomer | None, suppression: str | None,
                    marketing_email_requires_opt_in: bool) -> str | None:
    """None when the row may go to ``recipient`` now, else the refusal the outbox records.

    ``stored`` are the consent store's rows of the customer on the row's channel, ``customer`` the
    projection (its upstream flags count where the store is silent), ``suppression`` the reason the
    recipient's contact hash is suppressed, if it is.
    """
    has_address = recipient.address is not None
    return send_verdict(
        channel=row.channel, topic=row.topic,
        states=deciding_states(stored, consent_flags(customer), row.channel, row.topic),
        suppression=suppression if has_address else None, has_address=has_address,
        marketing_email_requires_opt_in=marketing_email_requires_opt_in,
    )


@dataclass(frozen=True)
class Landing:
    """What to record for a provider's answer; ``opted_out``: also record the carrier's opt-out."""

    write: RowWrite
    opted_out: bool = False


def landing_of(row: OutboxRecord, outcome: SendResult | SendError, *, now: dt.datetime, config: SenderConfig,
               rng: random.Random) -> Landing:
    """Sent; or, for a provider error: opted out, uncertain (held), retried with backoff, or failed."""
    if isinstance(outcome, SendResult):
        return Landing(settled(SENT, sent_at=now, provider=outcome.provider,
                               provider_message_id=outcome.provider_message_id, provider_status=outcome.status,
                               last_error=None))
    attempts = row.attempts + 1
    error = f"{outcome} [{outcome.code}]"
    if outcome.opted_out:  # the carrier knows the person replied STOP
        return Landing(settled(SUPPRESSED, last_error=error), opted_out=True)
    if outcome.uncertain:
        return Landing(settled(HELD_FOR_REVIEW, last_error=f"uncertain: {error}"))
    if outcome.retryable and attempts < config.max_attempts:
        delay = retry_delay(attempts, retry_after=outcome.retry_after, base=config.backoff_base_seconds,
                            cap=config.backoff_cap_seconds, rng=rng)
        return Landing(RowWrite(DRAFTED, {"next_attempt_at": now + dt.timedelta(seconds=delay), "last_error": error},
                                counted=RETRY))
    return Landing(settled(FAILED, last_error=error))
