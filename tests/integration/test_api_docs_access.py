"""Outside development the API docs are served only to logged-in console users."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from infra.database import make_engine
from infra.settings import Settings
from retain.api import create_app
from retain.console.mount import install_console
from retain.console.users import create_token, create_user
from retain.migrations import migrate
from signals.publisher import InMemoryEventPublisher

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
PRODUCTION = Settings(environment="production", unsubscribe_secret="u" * 32, contact_hash_key="k" * 32,
                      metrics_token="m" * 32, public_base_url="https://retain.example.com", ingest_token="i" * 32)


@pytest.fixture
def client_and_token(tmp_path):
    engine = make_engine(Settings(data_dir=tmp_path))
    migrate(engine)
    with Session(engine) as session:
        create_user(session=session, username="viewer", role="viewer", password="correct horse battery", now=NOW)
        token, _ = create_token(session=session, username="viewer", name="docs", now=NOW)
        session.commit()
    app = install_console(create_app(PRODUCTION, publisher=InMemoryEventPublisher(), engine=engine))
    yield TestClient(app, base_url="https://testserver", follow_redirects=False), token
    engine.dispose()


def test_anonymous_visitors_get_no_docs(client_and_token):
    client, _ = client_and_token
    assert client.get("/openapi.json").status_code == 401
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 303 and response.headers["location"].startswith("/console/login")


def test_a_console_user_reads_them(client_and_token):
    client, token = client_and_token
    auth = {"Authorization": f"Bearer {token}"}
    schema = client.get("/openapi.json", headers=auth)
    assert schema.status_code == 200 and "/v1/events" in schema.json()["paths"]
    assert "swagger-ui" in client.get("/docs", headers=auth).text
