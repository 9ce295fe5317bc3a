"""The conversations inbox as JSON under ``/api/conversations`` (same rules and audit as the pages)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from outreach.conversations.answers import AnswerRefused
from outreach.conversations.measures_store import measures_since
from outreach.conversations.records import OPEN
from retain.console import conversation_actions
from retain.console.auth import Principal, db, now_utc, require
from retain.console.conversations import detail, queue

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


class Answer(BaseModel):
    """A person's answer: the text without the system parts (sender line, opt-out line, footer)."""

    text: str = Field(min_length=1, max_length=5000)
    subject: str | None = Field(default=None, max_length=200, description="e-mail only; default Re: <their subject>")
    key: str = Field(min_length=8, max_length=64, description="the client's key of this answer: a retry with "
                                                              "the same key queues no second message")


class Assignment(BaseModel):
    """Who takes the conversation (null: back to the queue)."""

    assignee: str | None = Field(default=None, max_length=64)


class Finish(BaseModel):
    """How the conversation ends."""

    status: Literal["resolved", "closed"]


@router.get("")
def get_conversations(status: str = Query(OPEN, pattern="^(open|resolved|closed)$"), session: Session = Depends(db),
                      _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """The inbox queue: waiting first, then priority, then the longest wait."""
    return queue(session=session, now=now_utc(), status=status)


@router.get("/measures")
def get_measures(days: int = Query(30, ge=1, le=366), session: Session = Depends(db),
                 _: Principal = Depends(require("read"))) -> list[dict[str, Any]]:
    """Per rule: replies, share answered by a person, time to the first human answer (conversations of ``days``)."""
    since = now_utc() - dt.timedelta(days=days)
    return [m.to_dict() for m in measures_since(session=session, since=since)]


@router.get("/{conversation_id}")
def get_conversation(conversation_id: str, request: Request, suggestion: bool = True, session: Session = Depends(db),
                     _: Principal = Depends(require("read"))) -> dict[str, Any]:
    """The context packet, the thread with each answer's delivery state, the escalation pause, a suggested answer."""
    data = detail(session=session, conversation_id=conversation_id, now=now_utc(),
                  settings=request.app.state.settings, with_suggestion=suggestion)
    if data is None:
        raise HTTPException(404, f"no conversation {conversation_id!r}")
    if data["suggestion"] is not None:
        data["suggestion"] = asdict(data["suggestion"])
    return data


@router.post("/{conversation_id}/answer", responses={
    422: {"description": "the answer fails its guardrails: ``detail = {message, failed, checks}``; nothing is queued"}})
def post_answer(conversation_id: str, body: Answer, request: Request, session: Session = Depends(db),
                principal: Principal = Depends(require("converse"))) -> dict[str, Any]:
    """Queue the answer in the outbox (sent after the consent check); the same ``key`` twice is one message."""
    try:
        sent = conversation_actions.answer(session=session, conversation_id=conversation_id, text=body.text,
                                           subject=body.subject, form_key=body.key, actor=principal.username,
                                           now=now_utc(), settings=request.app.state.settings.conversations)
    except LookupError:
        raise HTTPException(404, f"no conversation {conversation_id!r}") from None
    except AnswerRefused as exc:
        session.rollback()
        raise HTTPException(422, exc.to_dict()) from None
    session.commit()
    return asdict(sent)


@router.post("/{conversation_id}/assign")
def post_assign(conversation_id: str, body: Assignment, session: Session = Depends(db),
                principal: Principal = Depends(require("converse"))) -> dict[str, Any]:
    """Assign or unassign the conversation."""
    if not conversation_actions.set_assignee(session=session, conversation_id=conversation_id, assignee=body.assignee,
                                             actor=principal.username, now=now_utc()):
        raise HTTPException(404, f"no conversation {conversation_id!r}")
    session.commit()
    return {"conversation_id": conversation_id, "assignee": body.assignee}


@router.post("/{conversation_id}/status")
def post_status(conversation_id: str, body: Finish, session: Session = Depends(db),
                principal: Principal = Depends(require("converse"))) -> dict[str, Any]:
    """Resolve or close an open conversation; 409 when it is not open."""
    if not conversation_actions.set_status(session=session, conversation_id=conversation_id, status=body.status,
                                           actor=principal.username, now=now_utc()):
        raise HTTPException(409, f"conversation {conversation_id} is not open")
    session.commit()
    return {"conversation_id": conversation_id, "status": body.status}
