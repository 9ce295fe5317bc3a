"""The inbox's writes, shared by its pages and its JSON API: answer, assign, resolve or close; each audited.

The caller commits. ``answer`` raises ``AnswerRefused`` (nothing queued) when the text fails its
guardrails, ``LookupError`` for an unknown conversation.
"""

from __future__ import annotations

import datetime as dt
from sqlmodel import Session

from infra.settings import ConversationSettings
from outreach.conversations.answers import SentAnswer, send_answer
from outreach.conversations.service import assign, finish
from retain.console.users import audit


def answer(*, session: Session, conversation_id: str, text: str, subject: str | None, form_key: str, actor: str,
           now: dt.datetime, settings: ConversationSettings) -> SentAnswer:
    """Queue a person's answer once (same ``form_key``: same message) and audit it."""
    sent = send_answer(session=session, conversation_id=conversation_id, text=text, subject=subject, author=actor,
                       form_key=form_key, now=now, settings=settings)
    if not sent.duplicate:
        audit(session=session, actor=actor, action="conversation.answer", target=f"conversation:{conversation_id}",
              now=now, detail={"message_id": sent.message_id})
    return sent


def set_assignee(*, session: Session, conversation_id: str, assignee: str | None, actor: str, now: dt.datetime) -> bool:
    """Assign (or, with None, unassign) a conversation; False when there is none."""
    if not assign(session=session, conversation_id=conversation_id, assignee=assignee, now=now):
        return False
    audit(session=session, actor=actor, action="conversation.assign", target=f"conversation:{conversation_id}",
          now=now, detail={"assignee": assignee})
    return True


def set_status(*, session: Session, conversation_id: str, status: str, actor: str, now: dt.datetime) -> bool:
    """Resolve or close an open conversation; False when it is not open."""
    if not finish(session=session, conversation_id=conversation_id, status=status, now=now):
        return False
    audit(session=session, actor=actor, action=f"conversation.{status}", target=f"conversation:{conversation_id}",
          now=now)
    return True
