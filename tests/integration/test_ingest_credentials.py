"""Per-producer ingest credentials on a real database: hashed, scoped, revocable, audited, required in production."""

from __future__ import annotations

import datetime as dt
import re
from base64 import b64encode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlmodel import Session
from typer.testing import CliRunner

from infra.database import make_engine
from infra.settings import ProductionSettingsError, Settings
from infra.records import JournalRecord
from retain.api import create_app
from retain.api.ingest_auth import VerifiedCredentials
from retain.cli import app as cli
from retain.console.records import ConsoleAuditRecord
from retain.migrations import migrate
from retain.producers import service
from retain.producers.records import IngestCredentialRecord
from signals.journal_publisher import JournalPublisher
from signals.publisher import InMemoryEventPublisher
from tests.fakes.console_world import PASSWORD, build_world

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
TS = "2026-11-22T10:00:00Z"
PRODUCTION = {"environment": "production", "unsubscribe_secret": "u" * 32, "contact_hash_key": "k" * 32,
              "metrics_token": "m" * 32, "public_base_url": "https://retain.example.com"}


def checkout(i: int) -> dict:
    return {"event_id": f"e-{i}", "customer_id": "c-1", "type": "checkout.started", "occurred_at": TS,
            "properties": {"checkout_id": f"k-{i}"}}


PROFILE = {"event_id": "p-1", "customer_id": "c-1", "type": "customer.profile", "occurred_at": TS,
           "properties": {"email": "attacker@example.net", "consent": {"email_marketing": True}}}
IDENTIFY = {"type": "identify", "messageId": "seg-1", "userId": "c-1", "timestamp": TS,
            "traits": {"email": "attacker@example.net"}}


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def create(engine: Engine, name: str, scopes: list[str], now: dt.datetime = T0) -> str:
    with Session(engine) as session:
        secret, _ = service.create_credential(session=session, name=name, scopes=scopes, actor="test", now=now)
        session.commit()
    return secret


def credential(engine: Engine, name: str) -> IngestCredentialRecord:
    with Session(engine) as session:
        return session.scalars(select(IngestCredentialRecord).where(IngestCredentialRecord.name == name)).one()


def test_secrets_are_stored_hashed_and_revocation_is_audited(migrated):
    secret = create(migrated, "storefront", ["events"])
    assert re.fullmatch(r"rti_[A-Za-z0-9_-]{43}", secret)
    with migrated.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(text("SELECT * FROM ingest_credentials")) for v in row)
    assert secret not in stored and secret[4:] not in stored
    with Session(migrated) as session:
        assert service.authenticate(session=session, secret=secret, now=T0).name == "storefront"
        with pytest.raises(ValueError, match="exists already"):
            service.create_credential(session=session, name="storefront", scopes=["events"], actor="t", now=T0)
        assert service.revoke_credential(session=session, ref="storefront", actor="ops", now=T0) is not None
        session.commit()
        assert service.authenticate(session=session, secret=secret, now=T0) is None
        assert service.revoke_credential(session=session, ref="storefront", actor="ops", now=T0) is None
        actions = [(a.actor, a.action, a.target) for a in session.scalars(select(ConsoleAuditRecord))]
    assert actions == [("test", "producer.create", "producer:storefront"), ("ops", "producer.revoke", "producer:storefront")]


@pytest.mark.parametrize(("name", "scopes", "error"), [
    ("", ["events"], "name must be"), ("-x", ["events"], "name must be"), ("a" * 65, ["events"], "name must be"),
    ("ok", [], "at least one scope"), ("ok", ["admin"], "unknown scope 'admin'"),
])
def test_bad_names_and_scopes_are_refused(migrated, name, scopes, error):
    with Session(migrated) as session, pytest.raises(ValueError, match=error):
        service.create_credential(session=session, name=name, scopes=scopes, actor="t", now=T0)


def test_last_use_is_recorded_at_most_once_a_minute(migrated):
    secret = create(migrated, "billing", ["events"])
    for seconds in (0, 30, 61):
        with Session(migrated) as session:
            service.authenticate(session=session, secret=secret, now=T0 + dt.timedelta(seconds=seconds))
            session.commit()
        expected = T0 + dt.timedelta(seconds=61 if seconds == 61 else 0)
        assert credential(migrated, "billing").last_used_at == expected


@pytest.fixture
def engine(tmp_path) -> Engine:
    eng = make_engine(Settings(data_dir=tmp_path))
    migrate(eng)
    yield eng
    eng.dispose()


async def post(app, path: str, body, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.post(path, json=body, headers=headers or {})


def test_production_refuses_to_start_until_a_credential_exists(engine):
    with pytest.raises(ProductionSettingsError, match="ingest credential"):
        create_app(Settings(**PRODUCTION), publisher=InMemoryEventPublisher(), engine=engine)
    secret = create(engine, "storefront", ["events"])
    create_app(Settings(**PRODUCTION), publisher=InMemoryEventPublisher(), engine=engine)  # starts now
    with Session(engine) as session:
        service.revoke_credential(session=session, ref="storefront", actor="t", now=T0)
        session.commit()
    with pytest.raises(ProductionSettingsError):
        create_app(Settings(**PRODUCTION), publisher=InMemoryEventPublisher(), engine=engine)
    assert secret


async def test_scopes_keep_contact_details_from_a_storefront_token(engine):
    storefront = create(engine, "storefront", ["events"])
    crm = create(engine, "crm", ["events", "profile"])
    publisher = InMemoryEventPublisher()
    app = create_app(Settings(**PRODUCTION), publisher=publisher, engine=engine)

    anonymous = await post(app, "/v1/events", PROFILE)
    assert anonymous.status_code == 401

    refused = await post(app, "/v1/events", [checkout(1), PROFILE], bearer(storefront))
    assert refused.status_code == 403
    (error,) = refused.json()["detail"]
    assert error["loc"] == [1, "type"]
    assert "'storefront'" in error["msg"] and "customer.profile" in error["msg"] and "'profile'" in error["msg"]
    segment = await post(app, "/v1/segment", IDENTIFY, {"authorization": "Basic " + b64encode(f"{storefront}:".encode()).decode()})
    assert segment.status_code == 403  # Segment identify becomes customer.profile: the same scope
    assert publisher.published == []  # nothing of a refused request

    assert (await post(app, "/v1/events", [checkout(2)], bearer(storefront))).status_code == 202
    assert (await post(app, "/v1/events", PROFILE, bearer(crm))).status_code == 202
    assert [e.event_id for e in publisher.published] == ["e-2", "p-1"]
    assert credential(engine, "storefront").last_used_at is not None


def revoke(engine: Engine, name: str) -> None:
    with Session(engine) as session:
        service.revoke_credential(session=session, ref=credential(engine, name).credential_id, actor="t", now=T0)
        session.commit()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def with_clock(app, ttl: float) -> Clock:
    clock = Clock()
    app.state.verified_credentials = VerifiedCredentials(ttl, clock=clock)
    return clock


async def test_a_revoked_credential_is_refused_at_once_without_the_cache(engine):
    secret = create(engine, "storefront", ["events"])
    app = create_app(Settings(**PRODUCTION, ingest_credential_cache_seconds=0), publisher=InMemoryEventPublisher(),
                     engine=engine)
    assert (await post(app, "/v1/events", checkout(1), bearer(secret))).status_code == 202
    revoke(engine, "storefront")
    response = await post(app, "/v1/events", checkout(2), bearer(secret))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


async def test_a_revoked_credential_is_refused_once_the_cache_ttl_passed(engine):
    secret = create(engine, "storefront", ["events"])
    settings = Settings(**PRODUCTION)
    app = create_app(settings, publisher=InMemoryEventPublisher(), engine=engine)
    clock = with_clock(app, settings.ingest_credential_cache_seconds)
    assert (await post(app, "/v1/events", checkout(1), bearer(secret))).status_code == 202
    revoke(engine, "storefront")
    clock.now += settings.ingest_credential_cache_seconds - 1  # still within the documented bound
    assert (await post(app, "/v1/events", checkout(2), bearer(secret))).status_code == 202
    clock.now += 1
    response = await post(app, "/v1/events", checkout(3), bearer(secret))
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def break_credential_store(engine: Engine) -> None:
    with engine.begin() as connection:  # every credential query now fails as in an outage
        connection.execute(text(f"ALTER TABLE {IngestCredentialRecord.__tablename__} RENAME TO broken"))


async def test_a_database_outage_does_not_stop_a_verified_credential_with_kafka(engine):
    secret = create(engine, "storefront", ["events"])
    other = create(engine, "billing", ["events"])
    publisher = InMemoryEventPublisher()  # the Kafka mode's publisher needs no database
    app = create_app(Settings(**PRODUCTION), publisher=publisher, engine=engine)
    clock = with_clock(app, 30)
    assert (await post(app, "/v1/events", checkout(1), bearer(secret))).status_code == 202
    break_credential_store(engine)
    assert (await post(app, "/v1/events", checkout(2), bearer(secret))).status_code == 202  # the blip is ridden out
    unverified = await post(app, "/v1/events", checkout(3), bearer(other))  # never verified: cannot be checked
    assert unverified.status_code == 503 and unverified.headers["retry-after"]
    assert "ingest credential" in unverified.json()["detail"]
    clock.now += 30
    expired = await post(app, "/v1/events", checkout(4), bearer(secret))  # the TTL bounds the trust
    assert expired.status_code == 503 and expired.headers["retry-after"]
    assert [e.event_id for e in publisher.published] == ["e-1", "e-2"]


async def test_a_journal_outage_in_the_single_box_mode_is_503_naming_the_journal(engine):
    app = create_app(Settings(), publisher=JournalPublisher(engine), engine=engine)
    with engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {JournalRecord.__tablename__} RENAME TO broken"))
    response = await post(app, "/v1/events", checkout(1))
    assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    assert response.json()["detail"].startswith("ingest journal (the database) unavailable")


async def test_the_environment_token_has_its_configured_scopes(engine):
    settings = Settings(**PRODUCTION, ingest_token="t" * 32, ingest_token_scopes=["events"])
    app = create_app(settings, publisher=InMemoryEventPublisher(), engine=engine)
    assert (await post(app, "/v1/events", checkout(1), bearer("t" * 32))).status_code == 202
    response = await post(app, "/v1/events", PROFILE, bearer("t" * 32))
    assert response.status_code == 403 and "RETAIN_INGEST_TOKEN" in response.text


async def test_development_is_open_only_until_the_first_credential(engine):
    app = create_app(Settings(), publisher=InMemoryEventPublisher(), engine=engine)
    assert (await post(app, "/v1/events", checkout(1))).status_code == 202
    secret = create(engine, "storefront", ["events"])
    assert (await post(app, "/v1/events", checkout(2))).status_code == 401
    assert (await post(app, "/v1/events", checkout(3), bearer(secret))).status_code == 202


async def test_a_database_outage_while_checking_the_credential_is_503(tmp_path):
    engine = make_engine(Settings(data_dir=tmp_path))  # never migrated: the credential table is missing
    app = create_app(Settings(data_dir=tmp_path), publisher=InMemoryEventPublisher(), engine=engine)
    response = await post(app, "/v1/events", checkout(1), bearer("rti_" + "x" * 43))
    assert response.status_code == 503 and response.headers["retry-after"]


def test_the_cli_creates_lists_and_revokes(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAIN_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    runner = CliRunner()
    created = runner.invoke(cli, ["producers", "create", "segment", "--scope", "events", "--scope", "profile"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("rti_")
    listed = runner.invoke(cli, ["producers", "list"])
    assert "segment\tevents,profile\tactive" in listed.stdout and secret not in listed.stdout
    assert runner.invoke(cli, ["producers", "create", "segment"]).exit_code == 2  # name taken
    assert runner.invoke(cli, ["producers", "revoke", "segment"]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["producers", "list"]).stdout
    assert runner.invoke(cli, ["producers", "revoke", "segment"]).exit_code == 2
    assert runner.invoke(cli, ["producers", "create", "x", "--scope", "everything"]).exit_code == 2


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("console-producers"))


def log_in(world, username: str) -> tuple[TestClient, str]:
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    response = client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    return client, client.get("/api/me").json()["csrf_token"]


def test_admins_manage_credentials_in_the_console_and_every_change_is_audited(world):
    admin, csrf = log_in(world, "admin")
    page = admin.post("/console/producers", data={"name": "storefront-web", "scopes": "events", "csrf_token": csrf})
    assert page.status_code == 200
    secret = re.search(r'id="new-secret">(rti_[^<]+)<', page.text).group(1)
    listed = admin.get("/console/producers").text
    assert "storefront-web" in listed and secret not in listed  # the secret is shown once

    made = admin.post("/api/producers", json={"name": "crm-sync", "scopes": ["events", "profile"]},
                      headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["secret"].startswith("rti_")
    assert admin.post("/api/producers", json={"name": "crm-sync"}, headers={"X-CSRF-Token": csrf}).status_code == 409
    bad = admin.post("/api/producers", json={"name": "x", "scopes": ["root"]}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and "scopes" in bad.text
    views = {p["name"]: p for p in admin.get("/api/producers").json()}
    assert views["crm-sync"]["scopes"] == ["events", "profile"] and views["crm-sync"]["last_used_at"] is None
    assert not any("secret" in key for view in views.values() for key in view)

    revoked = admin.post(f"/console/producers/{views['storefront-web']['credential_id']}/revoke",
                         data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert admin.delete("/api/producers/crm-sync", headers={"X-CSRF-Token": csrf}).json()["active"] is False
    audit = [(a["actor"], a["action"], a["target"]) for a in admin.get("/api/audit").json()
             if a["action"].startswith("producer.")]
    assert audit == [("admin", "producer.revoke", "producer:crm-sync"),
                     ("admin", "producer.revoke", "producer:storefront-web"),
                     ("admin", "producer.create", "producer:crm-sync"),
                     ("admin", "producer.create", "producer:storefront-web")]
