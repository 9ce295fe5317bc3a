"""Putting the console on the service's FastAPI app: routers, static files, login redirects.

Its security headers (CSP, no framing) come with every response's, from ``retain.api.security_headers``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from retain.console import api, conversation_api, conversation_pages, login, pages
from retain.console.auth import LoginRequired


def install_console(app: FastAPI) -> FastAPI:
    """Add the console pages, its JSON API, static files and handlers to ``app``."""
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(conversation_pages.router)
    app.include_router(conversation_api.router)
    app.mount("/console/static", StaticFiles(directory=Path(__file__).parent / "static"), name="console-static")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/console/login?next={quote(exc.next_path, safe='')}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/console/") and not request.url.path.startswith("/console/static"):
            return pages.render(request, "error.html", None, "Error", status_code=exc.status_code,
                                message=str(exc.detail))
        return await http_exception_handler(request, exc)

    return app
