"""Security headers on every response, chosen by what the path serves (one ASGI middleware, in ``create_app``).

Every response is not to be sniffed, framed, cached or followed by a ``Referer``, and its CSP
allows nothing to load (JSON, metrics and errors load nothing). Pages that do load things relax
exactly what they need:

- ``/outreach/``: the unsubscribe and preference pages carry the customer's token in their URL, so
  no referrer and no cache may keep it; they load nothing and post only to themselves.
- ``/console``, ``/api/``: the console's own scripts, styles and inline SVG; referrers stay on
  the same origin.
- ``/docs``, ``/redoc``: FastAPI's pages load their scripts and styles from a CDN, so their CSP only
  forbids framing (production turns them off or puts them behind a login).

A header the route set itself is kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE: dict[str, str] = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# Longest prefix first; each entry changes only what differs from BASE.
BY_PREFIX: tuple[tuple[tuple[str, ...], dict[str, str]], ...] = (
    (("/outreach/",), {
        "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "X-Robots-Tag": "noindex, nofollow",
    }),
    (("/console", "/api/"), {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                   "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        "Referrer-Policy": "same-origin",
    }),
    (("/docs", "/redoc"), {"Content-Security-Policy": "frame-ancestors 'none'"}),
)


def headers_for(path: str) -> dict[str, str]:
    """The security headers a response to ``path`` gets."""
    for prefixes, changes in BY_PREFIX:
        if path.startswith(prefixes):
            return {**BASE, **changes}
    return BASE


class SecurityHeaders:
    """ASGI middleware adding ``headers_for(path)`` to every HTTP response (keeping any the route set)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
