"""Production mode refuses to start without its secrets, and keeps /metrics and the API docs closed."""

from __future__ import annotations

import httpx
import pytest

from infra.settings import ProductionSettingsError, Settings, production_problems
from retain.api import create_app
from signals.publisher import InMemoryEventPublisher

SECRET = "s" * 32
# Everything a production deployment must set (besides an ingest credential).
COMPLETE = {"environment": "production", "unsubscribe_secret": "u" * 32, "contact_hash_key": "k" * 32,
            "metrics_token": "m" * 32, "public_base_url": "https://retain.example.com", "ingest_token": SECRET}
TS = "2026-11-22T10:00:00Z"
PROFILE = {"event_id": "p-1", "customer_id": "c-1", "type": "customer.profile", "occurred_at": TS,
           "properties": {"email": "attacker@example.net", "consent": {"email_marketing": True}}}


def production(**overrides) -> Settings:
    return Settings(**(COMPLETE | overrides))


def test_complete_production_settings_have_no_problems():
    assert production_problems(production()) == []


def test_development_has_no_checks():
    assert production_problems(Settings()) == []


@pytest.mark.parametrize(("overrides", "named"), [
    ({"unsubscribe_secret": "development-unsubscribe-secret"}, "RETAIN_UNSUBSCRIBE_SECRET"),
    ({"contact_hash_key": "development-contact-hash-key"}, "RETAIN_CONTACT_HASH_KEY"),
    ({"unsubscribe_secret": "short"}, "RETAIN_UNSUBSCRIBE_SECRET must be at least 32"),
    ({"metrics_token": None}, "RETAIN_METRICS_TOKEN"),
    ({"ingest_token": "short"}, "RETAIN_INGEST_TOKEN must be at least 32"),
    ({"public_base_url": "http://127.0.0.1:8000"}, "RETAIN_PUBLIC_BASE_URL"),
    ({"sendgrid_api_key": "SG.x"}, "RETAIN_SENDGRID_WEBHOOK_PUBLIC_KEY"),
    ({"twilio_account_sid": "AC1"}, "RETAIN_TWILIO_AUTH_TOKEN"),
    ({"ops_webhook_url": "https://ops.example.com/hooks"}, "RETAIN_OPS_WEBHOOK_SECRET"),
    ({"ops_webhook_url": "https://ops.example.com/hooks", "ops_webhook_secret": "short"},
     "RETAIN_OPS_WEBHOOK_SECRET must be at least 32"),
    # any value other than "development" is production: a typo must not open the service
    ({"environment": "prod", "metrics_token": None}, "RETAIN_METRICS_TOKEN"),
])
def test_each_missing_or_default_secret_is_named(overrides, named):
    problems = production_problems(production(**overrides))
    assert len(problems) == 1 and named in problems[0]
    with pytest.raises(ProductionSettingsError, match=named):
        create_app(production(**overrides), publisher=InMemoryEventPublisher())


def test_production_without_any_ingest_credential_refuses_to_start():
    # Today's finding: RETAIN_ENVIRONMENT=production served an open /v1/events.
    with pytest.raises(ProductionSettingsError, match="RETAIN_INGEST_TOKEN or create one with `retain producers"):
        create_app(production(ingest_token=None), publisher=InMemoryEventPublisher())


@pytest.fixture
async def client():
    publisher = InMemoryEventPublisher()
    app = create_app(production(), publisher=publisher)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        c.publisher = publisher
        yield c


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": "Bearer "}])
async def test_an_anonymous_profile_event_is_refused_in_production(client, headers):
    response = await client.post("/v1/events", json=PROFILE, headers=headers)
    assert response.status_code == 401
    assert "ingest credential" in response.json()["detail"]
    assert client.publisher.published == []


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_api_docs_are_off_in_production(client, path):
    assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"authorization": "Bearer wrong"}, 401), ({"authorization": "Bearer " + "m" * 32}, 200)])
async def test_metrics_need_their_token_in_production(client, headers, status):
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert "RETAIN_METRICS_TOKEN" in response.json()["detail"]


async def test_metrics_and_docs_stay_open_in_development():
    app = create_app(Settings(), publisher=InMemoryEventPublisher())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        assert (await c.get("/metrics")).status_code == 200
        assert (await c.get("/openapi.json")).status_code == 200


@pytest.mark.parametrize("scopes", [["admin"], []])
def test_unknown_environment_token_scopes_refuse_to_start_everywhere(scopes):
    with pytest.raises(ProductionSettingsError, match="RETAIN_INGEST_TOKEN_SCOPES"):
        create_app(Settings(ingest_token=SECRET, ingest_token_scopes=scopes), publisher=InMemoryEventPublisher())
