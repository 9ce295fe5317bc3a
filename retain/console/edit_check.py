"""Guardrails for a reviewer's edit: rebuild a draft's checking context and frame the edited text.

A reviewer edits only the drafted text (and an e-mail subject); the system parts around it (sender
line, AI note, opt-out line, e-mail footer with the unsubscribe link) are kept exactly as the
system wrote them. The edit is checked by the same guardrails a drafted message passed, with the
same context rebuilt from what the outbox row, its decision (with the snapshot of the signal and
customer it carries), the rule version the decision was made under and the customer's stored
contact details hold. Anything missing means the edit cannot be
checked, and an unchecked edit is never approved (``EditUncheckable``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from outreach.drafting.brief import build_draft_request
from outreach.drafting.draft import Draft
from outreach.drafting.stored_facts import NothingToDraftFrom, contact_details, with_snapshot
from outreach.drafting.system_parts import wording
from outreach.drafting.template import TemplateDrafter
from outreach.guardrails import Candidate, GuardrailLimits
from outreach.guardrails.links import find_links
from outreach.outbox.records import OutboxRecord
from triggers.decision import Decision
from triggers.records import DecisionRecord, RuleVersionRecord
from triggers.rule import Rule

SYSTEM_PARTS = "system_parts"  # the pseudo-check recorded when an edit touches what the system adds


class EditUncheckable(Exception):
    """The edit cannot be checked (an input is missing), so it must not be approved."""


@dataclass(frozen=True)
class Frame:
    """The system text around a drafted body, as stored with the message."""

    prefix: str
    suffix: str
    draft: Draft  # the draft the system framed (body stripped, as framing strips it)

    def wrap(self, text: str) -> str:
        """The whole message for a new drafted ``text``."""
        return f"{self.prefix}{text.strip()}{self.suffix}"

    def unwrap(self, text: str) -> str:
        """The drafted part of ``text``: the text itself, or the middle of a whole message sent back unchanged around it."""
        text = normalise(text)
        if self.suffix and text.startswith(self.prefix) and text.endswith(self.suffix):
            return text[len(self.prefix):len(text) - len(self.suffix)].strip()
        return text.strip()

    def system_lines(self) -> list[str]:
        """Non-empty lines of the system parts (a reviewer's text must not carry copies of them)."""
        return [line.strip() for line in (self.prefix + "\n" + self.suffix).splitlines()
                if line.strip() and line.strip() != "--"]


def normalise(text: str) -> str:
    """Browser form line breaks (CRLF) as the stored text has them (LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def frame_of(row: OutboxRecord) -> Frame:
    """Split the stored message into system prefix, drafted body and system suffix; raises ``EditUncheckable``."""
    rendered = row.rendered or {}
    attempts = rendered.get("attempts") or []
    final = (attempts[-1] or {}).get("draft") if attempts else None
    if not final or not final.get("body") or not row.body:
        raise EditUncheckable("the stored draft record lacks the drafted text, so an edit cannot be checked")
    draft = Draft(body=str(final["body"]).strip(), subject=final.get("subject") or "",
                  preheader=final.get("preheader") or "", language=final.get("language") or "en")
    at = row.body.find(draft.body)
    if at < 0:
        raise EditUncheckable("the stored message does not contain its drafted text, so an edit cannot be checked")
    return Frame(prefix=row.body[:at], suffix=row.body[at + len(draft.body):], draft=draft)


def _decision(session: Session, row: OutboxRecord) -> Decision:
    try:
        return Decision.from_dict(row.decision or {})
    except ValidationError:
        pass  # an older row may keep a partial decision: the decisions table has all of it
    record = session.get(DecisionRecord, row.decision_id)
    if record is None:
        raise EditUncheckable(f"decision {row.decision_id} is not stored, so an edit cannot be checked")
    return Decision.model_validate(record.model_dump())


def rule_at(*, session: Session, rule_id: str, version: int, at: dt.datetime) -> Rule | None:
    """The stored content of ``rule_id`` version ``version`` in force at ``at`` (None when not stored)."""
    rows = list(session.scalars(select(RuleVersionRecord)
                                .where(RuleVersionRecord.rule_id == rule_id, RuleVersionRecord.version == version)
                                .order_by(RuleVersionRecord.first_seen_at)))
    # The same version number can hold several contents (edited without a bump): the one live at ``at``.
    live = [r for r in rows if r.first_seen_at <= at] or rows[:1]
    if not live:
        return None
    try:
        return Rule.model_validate(live[-1].content)
    except ValidationError:
        return None


def guardrail_input(*, session: Session, row: OutboxRecord, frame: Frame, subject: str, text: str,
                    limits: GuardrailLimits) -> Candidate:
    """What the guardrails check for the edited ``subject``/``text`` of ``row``; raises ``EditUncheckable``."""
    decision = _decision(session, row)
    if not decision.rule_id or decision.rule_version is None:
        raise EditUncheckable("the decision names no rule version, so the allowed offers are unknown")
    rule = rule_at(session=session, rule_id=decision.rule_id, version=decision.rule_version, at=decision.decided_at)
    if rule is None:
        raise EditUncheckable(f"rule {decision.rule_id} v{decision.rule_version} is not stored, "
                              "so the allowed offers are unknown")
    try:
        decision = with_snapshot(session=session, decision=decision)
    except NothingToDraftFrom:
        raise EditUncheckable(f"signal {decision.signal_id} is not stored, so the facts cannot be checked") from None
    private = contact_details(session=session, customer_id=row.customer_id)
    if private is None:
        raise EditUncheckable(f"customer {row.customer_id} is not stored, so personal data cannot be checked")
    unsubscribe = (row.rendered or {}).get("unsubscribe_url")
    # The only links allowed are the ones the system put in its own parts (the unsubscribe link).
    request = build_draft_request(decision=decision, action=rule.action, private=private, limits=limits,
                                  unsubscribe_url=unsubscribe, channel=row.channel,
                                  allowed_links=tuple(find_links(frame.prefix + frame.suffix)))
    draft = Draft(body=text.strip(), subject=subject, preheader=frame.draft.preheader, language=frame.draft.language)
    return Candidate(request, draft, frame.wrap(text))


def edited_html(frame: Frame, row: OutboxRecord, subject: str, text: str) -> str | None:
    """The HTML part of an edited e-mail, laid out like the drafted one (None for SMS)."""
    if row.channel != "email":
        return None
    unsubscribe = (row.rendered or {}).get("unsubscribe_url")
    footer = frame.suffix.split("\n--\n", 1)[1].split("\n") if "\n--\n" in frame.suffix else []
    if unsubscribe and footer and footer[-1].endswith(unsubscribe):
        footer = footer[:-1]  # the layout writes the unsubscribe link itself
    words = wording(frame.draft.language)
    return TemplateDrafter().render_html({
        "language": frame.draft.language, "subject": subject, "preheader": frame.draft.preheader,
        "paragraphs": [p.strip() for p in text.split("\n\n") if p.strip()], "footer": footer,
        "unsubscribe_url": unsubscribe, "unsubscribe_label": words["unsubscribe"],
    })
