"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: broker, database, every part).

Readiness also reads ``app.state.health`` (an ``infra.health.Health``, the runtime hands over the
worker's): every registered part (the stream agents, the tick timer, ...) must be ``ok`` and not
stale, and each one that is not is named with its status and why.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from infra.database import ping
from signals.publisher import PublishError

router = APIRouter(tags=["health"])

READY_TIMEOUT_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving requests."""
    return {"status": "ok"}


async def _check_broker(request: Request) -> str:
    try:
        await asyncio.wait_for(request.app.state.publisher.check(), READY_TIMEOUT_SECONDS)
    except (PublishError, asyncio.TimeoutError) as exc:
        return f"unreachable: {exc}" if str(exc) else "unreachable: timed out"
    return "ok"


async def _check_database(request: Request) -> str:
    engine = request.app.state.engine
    if engine is None:
        return "not configured"
    try:
        # Database drivers block: ping in a thread so the event loop keeps serving.
        await asyncio.wait_for(asyncio.to_thread(ping, engine), READY_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the reason is reported
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when the broker and the database (if configured) answer and every part is ok, else 503 naming what is not."""
    broker, database = await asyncio.gather(_check_broker(request), _check_database(request))
    checks = {"broker": broker, "database": database}
    health = getattr(request.app.state, "health", None)
    if health is not None:
        checks.update({name: state["status"] if not state["detail"] else f"{state['status']}: {state['detail']}"
                       for name, state in health.snapshot().items()})
    ready = all(value in ("ok", "not configured") or value.startswith("ok: ") for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)
