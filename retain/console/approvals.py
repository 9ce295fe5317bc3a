"""The approval queue: drafts waiting for a human, and approve / edit-and-approve / reject.

Each transition is conditional on the row still awaiting approval, so two reviewers clicking at
once cannot both act; the loser gets False. A reviewer edits the drafted text only; the system
parts stay as the system wrote them. An edit passes the same guardrails as a drafted message
(``edit_check``) before it is approved, or is refused with the failed checks (``EditRefused``);
an edit that cannot be checked is refused too. An approved edit keeps the original text, the
reviewer's name and the edit's guardrail results beside the message (``rendered``), so an audit
can see what a human changed and what it passed. The caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from outreach.guardrails import GuardrailLimits, GuardrailRefusal, GuardrailResult, failures, links, run_guardrails
from outreach.outbox.records import AWAITING_APPROVAL, DRAFTED, SUPPRESSED, OutboxRecord
from retain.console.edit_check import (
    SYSTEM_PARTS,
    EditUncheckable,
    Frame,
    edited_html,
    frame_of,
    guardrail_input,
    normalise,
)


class EditRefused(GuardrailRefusal):
    """An edit that failed its guardrails (``checks`` holds every result) or could not be checked."""


def queue(*, session: Session, limit: int = 100) -> list[OutboxRecord]:
    """Drafts awaiting approval, oldest first."""
    query = (select(OutboxRecord).where(OutboxRecord.state == AWAITING_APPROVAL)
             .order_by(OutboxRecord.created_at).limit(limit))
    return list(session.scalars(query))


def draft_view(row: OutboxRecord) -> dict[str, Any]:
    """What a reviewer sees: the text, the signal, the risk drivers and the guardrail results."""
    decision = row.decision or {}
    rendered = row.rendered or {}
    try:
        frame: Frame | None = frame_of(row)
    except EditUncheckable:
        frame = None  # shown whole; approving it unchanged still works, an edit is refused
    return {
        "message_id": row.message_id, "customer_id": row.customer_id, "rule_id": row.rule_id,
        "channel": row.channel, "topic": row.topic, "state": row.state, "subject": row.subject, "body": row.body,
        # What a reviewer may edit, and the system parts around it (kept as they are).
        "text": frame.draft.body if frame else row.body, "system_prefix": frame.prefix if frame else "",
        "system_suffix": frame.suffix if frame else "", "editable": frame is not None,
        "signal_kind": decision.get("signal_kind"), "episode_key": row.episode_key,
        "risk": decision.get("risk"), "risk_bucket": decision.get("risk_bucket"),
        "drivers": decision.get("drivers") or [], "reason": decision.get("reason"),
        "guardrails": rendered.get("guardrails") or rendered.get("guardrail_results") or [],
        "created_at": row.created_at.isoformat(),
    }


def _set(session: Session, message_id: str, now: dt.datetime, **values: Any) -> bool:
    result = session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.message_id == message_id, OutboxRecord.state == AWAITING_APPROVAL)
        .values(updated_at=now, **values))
    return result.rowcount == 1


def _edit(row: OutboxRecord, subject: str | None, body: str | None) -> tuple[str | None, str, Frame | None]:
    """(subject, drafted text, frame) after the edit; the frame is None when nothing changed."""
    new_subject = row.subject if subject is None else normalise(subject).strip()
    if body is None or normalise(body).strip() == normalise(row.body or "").strip():
        if new_subject == row.subject:
            return row.subject, row.body or "", None  # approved as shown (the whole message sent back)
    try:
        frame = frame_of(row)
    except EditUncheckable as exc:
        raise EditRefused(f"edit not checked: {exc}") from None
    text = frame.draft.body if body is None else frame.unwrap(body)
    if new_subject == row.subject and text == frame.draft.body:
        return row.subject, row.body or "", None
    return new_subject, text, frame


def check_edit(*, session: Session, row: OutboxRecord, frame: Frame, subject: str | None, text: str,
               limits: GuardrailLimits) -> list[GuardrailResult]:
    """Every guardrail result for an edited draft (the system-parts check first); raises ``EditRefused`` if uncheckable."""
    if not text.strip():
        return [GuardrailResult("length", False, "the edited text is empty")]
    copied = [line for line in frame.system_lines() if line in text]
    system = (GuardrailResult(SYSTEM_PARTS, False, "edit the message text only; the system adds "
                                                   f"{'; '.join(repr(c) for c in copied)} itself") if copied
              else GuardrailResult(SYSTEM_PARTS, True, "sender, opt-out and footer kept as the system wrote them"))
    try:
        inp = guardrail_input(session=session, row=row, frame=frame, subject=subject or "", text=text, limits=limits)
    except EditUncheckable as exc:
        raise EditRefused(f"edit not checked: {exc}") from None
    results = run_guardrails(inp)
    # The link check reads the message body as sent; a subject carries no system link, so none at all.
    in_subject = links.check(dataclasses.replace(inp, final_text=subject or ""))
    if not in_subject.passed:
        results = [GuardrailResult(r.name, False, ("" if r.passed else f"{r.detail}; ")
                                   + f"in the subject: {in_subject.detail}") if r.name == links.NAME else r
                   for r in results]
    return [system, *results]


def approve(*, session: Session, message_id: str, now: dt.datetime, reviewer: str,
            subject: str | None = None, body: str | None = None, limits: GuardrailLimits | None = None,
            ) -> dict[str, Any] | None:
    """Approve (optionally with edited subject/drafted text): it goes on to send. None if not awaiting approval.

    Returns ``{"message_id", "state", "edited", "guardrails"}`` (the edit's results, empty when
    unedited). An edit is checked by the guardrails first; ``EditRefused`` (nothing changes) when
    it fails or cannot be checked. ``body`` is the drafted text without the system parts (the whole
    message as shown, with the system parts untouched around a new text, is accepted too).
    """
    row = session.get(OutboxRecord, message_id)
    if row is None or row.state != AWAITING_APPROVAL:
        return None
    limits = limits or GuardrailLimits()
    values: dict[str, Any] = {}
    rendered = dict(row.rendered or {})
    new_subject, text, frame = _edit(row, subject, body)
    checks: list[GuardrailResult] = []
    if frame is not None:
        checks = check_edit(session=session, row=row, frame=frame, subject=new_subject, text=text, limits=limits)
        if failures(checks):
            raise EditRefused("the edited draft fails its guardrails: "
                              + "; ".join(f"{c.name}: {c.detail}" for c in failures(checks)), checks)
        full = frame.wrap(text)
        rendered["edited_by"] = reviewer
        rendered["edited_at"] = now.isoformat()
        rendered["original"] = {"subject": row.subject, "body": row.body, "text": frame.draft.body}
        rendered["edit_guardrails"] = [c.to_dict() for c in checks]
        rendered.update(subject=new_subject, text=full)
        if row.channel == "email":
            rendered["html"] = edited_html(frame, row, new_subject or "", text)
        values.update(subject=new_subject, body=full)
    rendered["approved_by"] = reviewer
    if not _set(session, message_id, now, state=DRAFTED, requires_approval=False, next_attempt_at=now,
                rendered=rendered, **values):
        return None
    return {"message_id": message_id, "state": DRAFTED, "edited": frame is not None,
            "guardrails": [c.to_dict() for c in checks]}


def reject(*, session: Session, message_id: str, now: dt.datetime, reviewer: str, reason: str) -> bool:
    """Reject a draft: it is never sent. False if it was not awaiting approval."""
    row = session.get(OutboxRecord, message_id)
    if row is None or row.state != AWAITING_APPROVAL:
        return False
    rendered = {**(row.rendered or {}), "rejected_by": reviewer, "rejection_reason": reason}
    return _set(session, message_id, now, state=SUPPRESSED, rendered=rendered,
                last_error=f"rejected by reviewer: {reason}"[:500])


def queue_row(*, session: Session, message_id: str) -> OutboxRecord | None:
    """The outbox row when it is awaiting approval, else None."""
    row = session.get(OutboxRecord, message_id)
    return row if row is not None and row.state == AWAITING_APPROVAL else None
