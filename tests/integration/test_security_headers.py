"""Every response carries security headers fitting what it is: customer pages, console, docs, metrics, API."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from outreach.tokens import PREFERENCES, UNSUBSCRIBE, make_token
from outreach.webhooks.routers import ROUTERS
from tests.fakes.console_world import build_world

pytestmark = pytest.mark.integration

NOSNIFF = {"x-content-type-options": "nosniff"}
NOT_FRAMED = {"x-frame-options": "DENY"}
NOT_STORED = {"cache-control": "no-store"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("headers"))
    for router in ROUTERS:
        world.app.include_router(router)
    secret = world.settings.unsubscribe_secret.get_secret_value().encode()
    now = dt.datetime.now(dt.timezone.utc)
    tokens = {purpose: make_token(secret, purpose=purpose, customer_id="c-1", now=now, channel="email",
                                  topic="marketing") for purpose in (PREFERENCES, UNSUBSCRIBE)}
    with TestClient(world.app, base_url="https://testserver") as client:
        client.tokens = tokens
        yield client


def _csp(response) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in response.headers.get("content-security-policy", "").split(";")) if part}


# (method, path, expected status, headers that must be there exactly, CSP directives that must be there exactly)
PAGES = [
    # Customer pages carry their token in the URL: no referrer may leak it, no cache may keep it.
    ("GET", "/outreach/preferences?{preferences}", 200, {**NOSNIFF, **NOT_FRAMED, **NOT_STORED,
     "referrer-policy": "no-referrer"}, {"default-src": "'none'", "frame-ancestors": "'none'", "form-action": "'self'"}),
    ("GET", "/outreach/unsubscribe?{unsubscribe}", 200, {**NOSNIFF, **NOT_FRAMED, **NOT_STORED,
     "referrer-policy": "no-referrer"}, {"default-src": "'none'", "frame-ancestors": "'none'"}),
    ("GET", "/outreach/preferences?token=forged", 400, {**NOSNIFF, **NOT_STORED, "referrer-policy": "no-referrer"},
     {"frame-ancestors": "'none'"}),
    ("GET", "/console/login", 200, {**NOSNIFF, **NOT_FRAMED, **NOT_STORED, "referrer-policy": "same-origin"},
     {"default-src": "'self'", "script-src": "'self'", "frame-ancestors": "'none'", "form-action": "'self'"}),
    ("GET", "/console/static/console.css", 200, {**NOSNIFF, **NOT_FRAMED}, {"frame-ancestors": "'none'"}),
    ("GET", "/api/me", 401, {**NOSNIFF, **NOT_STORED}, {"frame-ancestors": "'none'"}),
    ("GET", "/docs", 200, {**NOSNIFF, **NOT_FRAMED, "referrer-policy": "no-referrer"}, {"frame-ancestors": "'none'"}),
    ("GET", "/openapi.json", 200, {**NOSNIFF, **NOT_FRAMED}, {"default-src": "'none'", "frame-ancestors": "'none'"}),
    ("GET", "/metrics", 200, {**NOSNIFF, **NOT_FRAMED, **NOT_STORED, "referrer-policy": "no-referrer"},
     {"default-src": "'none'", "frame-ancestors": "'none'"}),
    ("GET", "/healthz", 200, {**NOSNIFF, **NOT_STORED}, {"default-src": "'none'"}),
    ("POST", "/v1/events", 422, {**NOSNIFF, **NOT_STORED}, {"default-src": "'none'"}),
    ("GET", "/no/such/page", 404, {**NOSNIFF, **NOT_FRAMED}, {"default-src": "'none'"}),
]


@pytest.mark.parametrize(("method", "path", "status", "headers", "csp"), PAGES, ids=[p[1] for p in PAGES])
def test_each_response_carries_its_security_headers(client, method, path, status, headers, csp):
    url = path.format(preferences=urlencode({"token": client.tokens[PREFERENCES]}),
                      unsubscribe=urlencode({"token": client.tokens[UNSUBSCRIBE]}))
    response = client.request(method, url, json={} if method == "POST" else None)
    assert response.status_code == status, response.text[:200]
    assert {name: response.headers.get(name) for name in headers} == headers
    assert {name: _csp(response).get(name) for name in csp} == csp


def test_docs_still_load_their_own_page(client):
    # The docs page pulls Swagger UI from FastAPI's CDN: its CSP only forbids framing, so it keeps working.
    assert set(_csp(client.get("/docs"))) == {"frame-ancestors"}
