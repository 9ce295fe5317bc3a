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

from retain.console import api, api_docs, conversation_api, conversation_pages, customer_pages, customers_api, login
from retain.console import pages, producers, proposals_api, proposals_pages, rule_pages, rule_preview_api, users_api
from retain.console import users_pages
from retain.console.auth import LoginRequired
from retain.console.client_address import networks


# Every console router: pages under /console, JSON under /api (the access test checks each route's permission).
ROUTERS = (login.router, pages.router, rule_pages.router, customer_pages.router, users_pages.router,
           proposals_pages.router, producers.page_router, conversation_pages.router, api.router,
           rule_preview_api.router, customers_api.router, producers.api_router, users_api.router,
           proposals_api.router, conversation_api.router)


def install_console(app: FastAPI) -> FastAPI:
    """Add the console pages, its JSON API, static files and handlers to ``app``."""
    for router in ROUTERS:
        app.include_router(router)
    if app.openapi_url is None:  # outside development: the docs only for logged-in users
        app.include_router(api_docs.router)
    networks(app.state.settings.trusted_proxies)  # a bad proxy entry stops the start, not the first login
    app.mount("/console/static", StaticFiles(directory=Path(__file__).parent / "static"), name="console-static")

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        """The service's root opens the console (its login form for anonymous visitors)."""
        return RedirectResponse("/console/", status_code=307)

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
