"""Request bodies capped while they stream in: 413 as soon as the cap is passed, never held whole.

``BodyLimit`` (ASGI middleware, installed by ``retain.api.app.create_app``) counts every request
body as the app receives it, including the bodies FastAPI parses itself (JSON models, forms), and
refuses it with ``BodyTooLarge`` (413, detail naming the limit) as soon as its declared length or
the bytes received so far pass the request's cap. The cap is ``default`` unless a dependency of
the route set another one with ``body_cap``: routes that read their own body (ingest, webhooks)
declare theirs, higher or lower, before they read a byte::

    router = APIRouter(prefix="/outreach/twilio", dependencies=[Depends(body_cap(64_000))])

FastAPI's own ``max_body_size`` counts the same way but answers a declared oversize in plain text
that replaces the route's own answer; clients of ingest and the console expect JSON ``detail``.
"""

from __future__ import annotations

from typing import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CAP_KEY = "retain.body_cap"  # the current request's cap, in its ASGI scope


class BodyTooLarge(HTTPException):
    """413: the request body is (or says it is) larger than ``limit`` bytes."""

    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")
        self.limit = limit


def body_cap(limit: int) -> Callable[[Request], None]:
    """A route dependency that caps this request's body at ``limit`` bytes (use it with ``Depends``)."""

    def cap_body(request: Request) -> None:
        request.scope[CAP_KEY] = limit

    return cap_body


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # a malformed header is the server's to refuse
    return None


class BodyLimit:
    """ASGI middleware: each request body is refused with 413 once it passes its cap (``default`` bytes)."""

    def __init__(self, app: ASGIApp, *, default: int):
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[CAP_KEY] = self.default
        declared, received = _declared_length(scope), 0

        async def capped_receive() -> Message:
            nonlocal received
            limit = scope[CAP_KEY]  # read at each call: the route may have set its own by now
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, capped_receive, send)
