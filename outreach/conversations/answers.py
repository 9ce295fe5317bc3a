"""Answers to customers: a suggestion drafted from the facts, and a person's answer sent through the outbox.

Both go through the same drafting request and the same guardrails as outbound messages: a
service-topic request built from the answered message's signal facts (no offers allowed, dates
and amounts only from the facts, nothing echoed from the customer's text, the customer's
language, no contact details, no foreign links). The suggestion is drafted by the LLM when one is
configured (else the ``reply`` template) and is only ever shown; a person edits it and sends.

Sending puts ONE outbox row in state ``drafted`` (the text is final), keyed by the conversation
and the answer form's own key, so a double click or a resent form cannot queue a second message;
the sender then re-checks consent and sends it like any other message, exactly once. Its rule id
is ``ANSWER_RULE_ID``, which keeps answers out of every rule's statistics and reputation (and out
of the escalation pause: a person's answer is what the pause is for). An e-mail answer carries
``In-Reply-To`` / ``References`` naming the customer's latest reply (``thread_links.reply_headers``),
so it threads under that reply in their mail client.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from infra.database import dialect_insert
from infra.settings import ConversationSettings
from outreach.conversations.records import ANSWER_RULE_ID, INBOUND, ConversationEntryRecord, ConversationRecord
from outreach.conversations.service import entry_exists, record_answer, thread_entries
from outreach.conversations.thread_links import reply_headers
from outreach.drafting.brief import DraftRequest, GuardrailLimits, PrivateFacts, signal_facts
from outreach.drafting.compose import compose, frame
from outreach.drafting.draft import Draft
from outreach.drafting.llm import llm_drafter_from_settings
from outreach.drafting.stored_facts import NothingToDraftFrom, contact_details, with_snapshot
from outreach.drafting.system_parts import WORDING, SystemParts
from outreach.drafting.template import TemplateDrafter
from outreach.guardrails import Candidate, GuardrailRefusal, GuardrailResult, failures, run_guardrails
from outreach.outbox.records import DRAFTED, OutboxRecord
from signals.records import CustomerRecord
from triggers.decision import Decision, DecisionSnapshot

REPLY_KIND = "reply"  # the drafting "signal kind" of an answer: templates/<lang>/reply.j2
MAX_QUOTED_REPLY = 500
TONE = "warm, plain and brief: a person answering a customer"
BRIEFS = {
    "order_status": "Answer the customer's question about their order or delivery with the facts in the data "
                    "(order number, dates, carrier). If the data does not answer it, say that a colleague is "
                    "checking and will write back.",
    "billing": "Acknowledge the billing question and say that a colleague is checking the payment and will write "
               "back. Promise no refund, credit or amount.",
    "cancellation": "Acknowledge the request to cancel and say that a colleague is taking care of it and will "
                    "confirm. Do not argue and do not offer anything.",
    "complaint": "Apologise sincerely for the trouble, without repeating the customer's words, and say that a "
                 "colleague is taking care of it personally.",
    "thanks": "Thank the customer briefly for their reply.",
    "opt_out": "Confirm briefly that they will get no more messages from us.",
    "other": "Answer politely that a colleague will look at the message and write back.",
}


class AnswerRefused(GuardrailRefusal):
    """An answer that fails its guardrails (``checks``) or cannot be sent (no known customer)."""


@dataclass(frozen=True)
class Suggestion:
    """A drafted answer for a person to edit: the text without the system parts, and how it was drafted."""

    text: str
    subject: str
    drafter: str
    guardrails: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SentAnswer:
    """The outbox message an answer became; ``duplicate`` when this answer was queued before."""

    message_id: str | None
    duplicate: bool
    guardrails: list[dict[str, Any]]


def latest_inbound(session: Session, conversation: ConversationRecord) -> ConversationEntryRecord | None:
    """The customer's latest reply in the conversation, or None."""
    inbound = [e for e in thread_entries(session=session, conversation_id=conversation.conversation_id)
               if e.direction == INBOUND]
    return inbound[-1] if inbound else None


def latest_reply(session: Session, conversation: ConversationRecord) -> tuple[str, str | None]:
    """The text and subject of the customer's latest reply."""
    entry = latest_inbound(session, conversation)
    return (entry.text or "", entry.subject) if entry is not None else ("", None)


def thread_headers(session: Session, conversation: ConversationRecord) -> dict[str, str]:
    """The e-mail headers that thread an answer under the customer's latest reply (none for SMS)."""
    entry = latest_inbound(session, conversation) if conversation.channel == "email" else None
    return reply_headers((entry.details or {}).get("email_thread") or {}) if entry is not None else {}


def answered_snapshot(session: Session, message: OutboxRecord | None) -> DecisionSnapshot | None:
    """The snapshot of the decision behind the answered message (None: no message, or one of our answers)."""
    if message is None:
        return None
    try:
        decision = Decision.from_dict(message.decision or {})
        return with_snapshot(session=session, decision=decision).snapshot
    except (ValidationError, NothingToDraftFrom):
        return None  # an answer to a person's answer, or an old row without its signal: the reply is the context


def answer_request(*, session: Session, conversation: ConversationRecord, limits: GuardrailLimits) -> DraftRequest:
    """The drafting request of an answer: service topic, no offers, no links, the answered message's facts."""
    customer = session.get(CustomerRecord, conversation.customer_id) if conversation.customer_id else None
    message = session.get(OutboxRecord, conversation.message_id) if conversation.message_id else None
    snapshot = answered_snapshot(session, message)
    time_zone = (snapshot.time_zone if snapshot is not None else None) or (customer.time_zone if customer else None)
    facts = signal_facts(snapshot.signal_attributes, time_zone) if snapshot is not None else {}
    text, _ = latest_reply(session, conversation)
    facts["customer_reply"] = text[:MAX_QUOTED_REPLY]  # data for the drafter; the echo check keeps it out
    # The reply's language when the system parts have wording for it (the sender line, the footer), else English.
    language = conversation.language if conversation.language in WORDING else "en"
    private = contact_details(session=session, customer_id=conversation.customer_id) if customer else None
    return DraftRequest(
        channel=conversation.channel, topic="service", rule_id=ANSWER_RULE_ID,
        brief=BRIEFS.get(conversation.intent, BRIEFS["other"]), tone=TONE, signal_kind=REPLY_KIND,
        signal_reason=conversation.intent, facts=facts, offers=(),
        first_name=customer.first_name if customer is not None else None, locale=language,
        private=private or PrivateFacts(), message_ref=conversation.conversation_id, limits=limits,
    )


def suggest(*, session: Session, conversation: ConversationRecord, settings: ConversationSettings) -> Suggestion:
    """A suggested answer, drafted by the LLM (when configured) or the template, checked by the guardrails."""
    framing = settings.message_framing
    request = answer_request(session=session, conversation=conversation, limits=GuardrailLimits.from_settings(framing))
    drafter = llm_drafter_from_settings(settings.llm, sms_max_segments=framing.sms_max_segments)
    composed = compose(request, drafter=drafter, fallback=TemplateDrafter(), system=SystemParts.from_settings(framing))
    final = composed.attempts[-1].draft
    return Suggestion(text=final.body if final is not None else "", subject=_subject(session, conversation),
                      drafter=composed.drafter, guardrails=[g.to_dict() for g in composed.guardrails])


def _subject(session: Session, conversation: ConversationRecord) -> str:
    _, subject = latest_reply(session, conversation)
    if subject:
        return subject if subject.lower().startswith("re:") else f"Re: {subject}"
    message = session.get(OutboxRecord, conversation.message_id) if conversation.message_id else None
    return f"Re: {message.subject}" if message is not None and message.subject else "Re: your message"


def check_answer(*, request: DraftRequest, text: str, subject: str, system: SystemParts,
                 ) -> tuple[str, list[GuardrailResult]]:
    """The answer as it will be sent (system parts added) and every guardrail result for it."""
    draft = Draft(body=text.strip(), subject=subject.strip(), language=request.language)
    framed = frame(request, draft, system, ai_drafted=False)
    if not draft.body:
        return framed.text, [GuardrailResult("length", False, "the answer is empty")]
    return framed.text, run_guardrails(Candidate(request, draft, framed.text))


def answer_key(conversation_id: str, form_key: str) -> str:
    """The outbox idempotency key of one answer form: the same form posted twice is one message."""
    return hashlib.sha256(f"answer\x1f{conversation_id}\x1f{form_key}".encode()).hexdigest()[:40]


def send_answer(*, session: Session, conversation_id: str, text: str, subject: str | None, author: str,
                form_key: str, now: dt.datetime, settings: ConversationSettings) -> SentAnswer:
    """Check a person's answer and queue it in the outbox once; ``AnswerRefused`` when it may not go."""
    conversation = session.get(ConversationRecord, conversation_id)
    if conversation is None:
        raise LookupError(f"no conversation {conversation_id}")
    key = answer_key(conversation_id, form_key)
    if entry_exists(session=session, dedup_key=f"answer:{key}"):
        existing = session.scalar(select(OutboxRecord.message_id).where(OutboxRecord.idempotency_key == key))
        return SentAnswer(existing, True, [])
    if conversation.customer_id is None:
        raise AnswerRefused("the sender is not a known customer: answer from your own mail or phone")
    framing = settings.message_framing
    request = answer_request(session=session, conversation=conversation, limits=GuardrailLimits.from_settings(framing))
    subject = (subject or _subject(session, conversation)) if conversation.channel == "email" else None
    body, checks = check_answer(request=request, text=text, subject=subject or "",
                                system=SystemParts.from_settings(framing))
    if failures(checks):
        raise AnswerRefused("the answer fails its guardrails: "
                            + "; ".join(f"{c.name}: {c.detail}" for c in failures(checks)), checks)
    message_id = uuid.uuid4().hex
    results = [c.to_dict() for c in checks]
    rendered: dict[str, Any] = {"drafter": "human", "author": author, "text": text.strip(), "guardrails": results}
    headers = thread_headers(session, conversation)
    if headers:
        rendered["headers"] = headers  # the sender hands them to the provider with the message
    table = OutboxRecord.__table__
    inserted = session.execute(dialect_insert(session, table).values(
        message_id=message_id, idempotency_key=key, decision_id=conversation_id, customer_id=conversation.customer_id,
        rule_id=ANSWER_RULE_ID, episode_key=f"conversation:{conversation_id}", channel=conversation.channel,
        topic="service", state=DRAFTED, requires_approval=False,
        decision={"kind": "conversation_answer", "conversation_id": conversation_id, "rule_id": ANSWER_RULE_ID,
                  "answers_rule_id": conversation.rule_id, "signal_kind": REPLY_KIND, "topic": "service",
                  "channel": conversation.channel, "customer_id": conversation.customer_id},
        attempts=0, next_attempt_at=now, rendered=rendered,
        subject=subject, body=body, created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.message_id)).first()
    if inserted is None:
        return SentAnswer(None, True, results)
    record_answer(session=session, conversation=conversation, dedup_key=f"answer:{key}", text=text.strip(),
                  subject=subject, author=author, outbox_message_id=message_id, now=now, details={"guardrails": results})
    return SentAnswer(message_id, False, results)
