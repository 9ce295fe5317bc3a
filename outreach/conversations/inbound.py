"""What both webhooks do with a customer's reply: thread it, triage it, store it, escalate, hand it off.

``receive`` reads the thread and the customer's locale, triages OUTSIDE any transaction (the LLM
may take up to its timeout), then stores the reply in its conversation in one transaction: a
repeated provider event (same key) changes nothing and is not triaged again. A reply that
escalates (complaint, frustration, cancellation) sets the conversation's ``escalated_at``, which
the contact policy reads to stop automated outreach. A plain-words opt-out found by triage opts
the contact point out of the channel, like a keyword would. The context packet goes to the
helpdesk hand-off (when one is configured) after the commit; its failure is logged, never lost
(the reply is stored and waits in the inbox).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from sqlalchemy import Engine
from sqlmodel import Session

from outreach.consent.locks import lock_for_opt_out
from outreach.consent.service import ConsentChange, customers_with_contact, record_consent
from outreach.conversations.context import conversation_packet
from outreach.conversations.llm_triage import Triager
from outreach.conversations.service import ThreadHints, entry_exists, mark_handed_off, record_reply, thread_of
from outreach.conversations.triage import Intent, Triage
from signals.records import CustomerRecord

log = logging.getLogger(__name__)

Handoff = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Reply:
    """One customer reply as a webhook hands it over (no address: the sender's hashed contact point)."""

    hints: ThreadHints
    text: str
    dedup_key: str
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # attachments dropped, truncation, thread method


@dataclass
class Received:
    """What became of a reply."""

    duplicate: bool = False
    conversation_id: str | None = None
    customer_id: str | None = None
    triage: Triage | None = None
    rule_id: str | None = None
    consent_changes: list[ConsentChange] = field(default_factory=list)
    packet: dict[str, Any] | None = None

    @property
    def opt_out(self) -> bool:
        """True when triage read the reply as a request to stop messages."""
        return self.triage is not None and self.triage.intent == Intent.OPT_OUT


def _locale(session: Session, customer_id: str | None) -> str | None:
    customer = session.get(CustomerRecord, customer_id) if customer_id else None
    return customer.locale if customer is not None else None


def receive(*, engine: Engine, triager: Triager, reply: Reply, now: dt.datetime,
            opt_out_email: bool = True) -> Received:
    """Thread, triage and store one reply (blocking: call it in a thread from async code)."""
    with Session(engine, expire_on_commit=False) as session:
        if entry_exists(session=session, dedup_key=reply.dedup_key):
            return Received(duplicate=True)
        thread = thread_of(session=session, hints=reply.hints)
        locale = _locale(session, thread.customer_id)
    triage = triager.triage(reply.text, locale=locale)
    details = {**reply.details, "threaded_by": thread.how,
               "in_reply_to": thread.message.message_id if thread.message is not None else None}
    with Session(engine, expire_on_commit=False) as session:
        thread = thread_of(session=session, hints=reply.hints)  # read again inside the writing transaction
        conversation, new = record_reply(session=session, hints=reply.hints, thread=thread, triage=triage,
                                         text=reply.text, dedup_key=reply.dedup_key, now=now, subject=reply.subject,
                                         details=details)
        if not new or conversation is None:
            session.rollback()
            return Received(duplicate=True)
        received = Received(conversation_id=conversation.conversation_id, customer_id=conversation.customer_id,
                            triage=triage, rule_id=conversation.rule_id)
        if received.opt_out and reply.hints.channel == "email" and opt_out_email:
            # "Stop e-mailing me" in plain words is an opt-out; missing one is worse than one too many.
            customers = customers_with_contact(session=session, contact_hash=reply.hints.contact_hash, channel="email")
            lock_for_opt_out(session, customer_ids=customers)  # all at once (``outreach.consent.locks``)
            for customer_id in customers:
                received.consent_changes.append(record_consent(
                    session=session, customer_id=customer_id, channel="email", topic="*", status="opted_out",
                    source="email_reply", changed_at=now, evidence={"conversation_id": conversation.conversation_id},
                    contact_hash=reply.hints.contact_hash))
        received.packet = conversation_packet(session=session, conversation=conversation, reply_text=reply.text,
                                              now=now)
        session.commit()
    if triage.escalates:
        log.info("conversation %s escalated (%s): automated outreach to customer %s paused",
                 received.conversation_id, triage.escalation_reason, received.customer_id)
    return received


async def hand_off(*, engine: Engine, handoff: Handoff | None, received: Received, now: dt.datetime) -> bool:
    """Post the packet to the helpdesk (when one is configured) and note it; False when it was not delivered."""
    if handoff is None or received.packet is None or received.conversation_id is None:
        return False
    try:
        await handoff(received.packet)
    except Exception:  # noqa: BLE001 - the reply is stored and waits in the inbox
        log.exception("helpdesk hand-off failed for conversation %s", received.conversation_id)
        return False
    with Session(engine) as session:
        mark_handed_off(session=session, conversation_id=received.conversation_id, now=now)
        session.commit()
    return True
