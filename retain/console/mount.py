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

from retain.console import api, api_docs, login, pages, producers, proposals_api, proposals_pages, users_api
from retain.console import users_pages
from retain.console.auth import LoginRequired
from retain.console.client_address import networks


# Every console router: pages under /console, JSON under /api (the access test checks each route's permission).
ROUTERS = (login.router, pages.router, users_pages.router, proposals_pages.router, producers.page_router, api.router,
           producers.api_router, users_api.router, proposals_api.router)


def install_console(app: FastAPI) -> FastAPI:
    """Add the console pages, its JSON API, static files and handlers to ``app``."""
    for router in ROUTERS:
        app.include_router(router)
    if app.openapi_url is None:  # outside development: the docs only for logged-in users
        app.include_router(api_docs.router)
    networks(app.state.settings.trusted_proxies)  # a bad proxy entry stops the start, not the first login
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
