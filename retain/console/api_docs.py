"""The API docs outside development: ``/docs``, ``/redoc`` and ``/openapi.json`` for logged-in console users only.

In development FastAPI serves them openly; ``create_app`` turns them off elsewhere, and
``install_console`` adds these routes in their place (anonymous visitors of the pages are sent to
the login form; the schema answers 401).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from retain.console.auth import Principal, page, require

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi_schema(request: Request, _: Principal = Depends(require("read"))) -> JSONResponse:
    """The OpenAPI schema of the whole service."""
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request, _: Principal = Depends(page("read"))) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} API")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request, _: Principal = Depends(page("read"))) -> HTMLResponse:
    """ReDoc over ``/openapi.json``."""
    return get_redoc_html(openapi_url="/openapi.json", title=f"{request.app.title} API")
