"""What the inbound webhooks share for customers' replies: the triager, the helpdesk hand-off, the desk.

``app.state.triager`` (tests and the runtime set it) or, on first use, the one the settings
describe: the LLM when configured, the built-in classifier otherwise (loaded from the data dir, or
trained there once). ``app.state.support_handoff`` (tests) or the signed hand-off the settings
configure; none without a helpdesk URL (the reply waits in the console inbox).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request

from outreach.conversations.classifier import load_or_train
from outreach.conversations.inbound import Received, Reply, hand_off, receive
from outreach.conversations.llm_triage import Triager, build_triager
from outreach.webhooks.requests import conversation_settings, now_of, publish_changes, session_of
from outreach.webhooks.support_handoff import handoff_from_settings

_LOCK = asyncio.Lock()


async def triager_of(request: Request) -> Triager:
    """The app's triager, built (in a thread: training takes a moment) on first use."""
    state = request.app.state
    if getattr(state, "triager", None) is None:
        async with _LOCK:
            if getattr(state, "triager", None) is None:
                settings = conversation_settings(request)
                classifier = await asyncio.to_thread(load_or_train, settings.data_dir)
                state.triager = build_triager(settings, classifier)
    return state.triager


def handoff_of(request: Request) -> Any:
    """The helpdesk hand-off: injected, configured, or None."""
    state = request.app.state
    injected = getattr(state, "support_handoff", None)
    return injected if injected is not None else handoff_from_settings(conversation_settings(request))


async def take_reply(request: Request, reply: Reply) -> Received:
    """Thread, triage and store a reply, publish its consent changes, then hand it to the helpdesk."""
    session_of(request).close()  # 503 now when the app has no database
    engine = request.app.state.engine
    now = now_of(request)
    received = await asyncio.to_thread(receive, engine=engine, triager=await triager_of(request), reply=reply, now=now)
    await publish_changes(request, received.consent_changes)
    await hand_off(engine=engine, handoff=handoff_of(request), received=received, now=now)
    return received
