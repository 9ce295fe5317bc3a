"""The conversations inbox pages under ``/console/conversations``: the queue and one conversation.

Reading needs ``read``; answering, assigning and resolving need ``converse`` (the ``agent`` and
``admin`` roles). Each answer form carries its own key, so posting it twice (a double click, a
resent form) queues one message.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from outreach.conversations.answers import AnswerRefused
from outreach.conversations.records import CLOSED, OPEN, RESOLVED, STATUSES
from retain.console import conversation_actions
from retain.console.auth import Principal, db, now_utc, page
from retain.console.conversations import detail, queue
from retain.console.pages import render

router = APIRouter(prefix="/console/conversations", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def inbox_page(request: Request, status: str = OPEN, done: str = "", session: Session = Depends(db),
               principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """Conversations in answering order: waiting first, then priority, then the longest wait."""
    return render(request, "conversations.html", principal, "Conversations", "conversations",
                  conversations=queue(session=session, now=now_utc(), status=status), statuses=STATUSES,
                  status=status, flash=done or None)


def _conversation(request: Request, session: Session, principal: Principal, conversation_id: str, *,
                  flash: str | None = None, refused: dict | None = None, status_code: int = 200) -> HTMLResponse:
    data = detail(session=session, conversation_id=conversation_id, now=now_utc(), settings=request.app.state.settings)
    if data is None:
        return render(request, "error.html", principal, "Conversation", "conversations", status_code=404,
                      message=f"No conversation {conversation_id!r}.")
    return render(request, "conversation.html", principal, "Conversation", "conversations", status_code=status_code,
                  data=data, form_key=uuid.uuid4().hex, can_converse=principal.may("converse"), refused=refused,
                  flash=flash, flash_kind="error" if refused else "ok")


@router.get("/{conversation_id}", response_class=HTMLResponse)
def conversation_page(conversation_id: str, request: Request, done: str = "", session: Session = Depends(db),
                      principal: Principal = Depends(page("read"))) -> HTMLResponse:
    """One conversation: context packet, thread, suggested answer, actions."""
    return _conversation(request, session, principal, conversation_id, flash=done or None)


@router.post("/{conversation_id}/answer", response_class=HTMLResponse)
def answer_submit(conversation_id: str, request: Request, text: str = Form(""), subject: str | None = Form(None),
                  form_key: str = Form(..., min_length=8, max_length=64), session: Session = Depends(db),
                  principal: Principal = Depends(page("converse"))) -> Response:
    """Send the (edited) answer through the outbox; refused with the failed checks when a guardrail fails."""
    try:
        sent = conversation_actions.answer(session=session, conversation_id=conversation_id, text=text,
                                           subject=subject, form_key=form_key, actor=principal.username,
                                           now=now_utc(), settings=request.app.state.settings.conversations)
    except LookupError:
        return render(request, "error.html", principal, "Conversation", "conversations", status_code=404,
                      message=f"No conversation {conversation_id!r}.")
    except AnswerRefused as exc:
        session.rollback()
        return _conversation(request, session, principal, conversation_id, status_code=422,
                             flash=f"Not sent: {exc.reason}", refused={"text": text, "subject": subject, **exc.to_dict()})
    session.commit()
    done = "Already queued." if sent.duplicate else "Answer queued: it goes out after the consent check."
    return RedirectResponse(f"/console/conversations/{conversation_id}?done={done}", status_code=303)


@router.post("/{conversation_id}/assign")
def assign_submit(conversation_id: str, assignee: str = Form(""), session: Session = Depends(db),
                  principal: Principal = Depends(page("converse"))) -> Response:
    """Take the conversation (empty: give it back to the queue)."""
    conversation_actions.set_assignee(session=session, conversation_id=conversation_id,
                                      assignee=assignee.strip() or None, actor=principal.username, now=now_utc())
    session.commit()
    return RedirectResponse(f"/console/conversations/{conversation_id}", status_code=303)


@router.post("/{conversation_id}/status")
def status_submit(conversation_id: str, request: Request, status: str = Form(...), session: Session = Depends(db),
                  principal: Principal = Depends(page("converse"))) -> Response:
    """Resolve or close the conversation."""
    if status not in (RESOLVED, CLOSED) or not conversation_actions.set_status(
            session=session, conversation_id=conversation_id, status=status, actor=principal.username, now=now_utc()):
        return render(request, "error.html", principal, "Conversation", "conversations", status_code=409,
                      message=f"Conversation {conversation_id} is not open (or {status!r} is not resolved/closed).")
    session.commit()
    return RedirectResponse(f"/console/conversations?done=Conversation {status}.", status_code=303)
