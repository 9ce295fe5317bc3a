"""The ingest API against an in-memory publisher: what is accepted, what is refused and why."""

from __future__ import annotations

import datetime as dt
import json
import runpy
from base64 import b64encode
from pathlib import Path

import httpx
import pytest

from retain.api import create_app
from infra.settings import Settings
from signals.events import json_schema
from signals.publisher import InMemoryEventPublisher

ROOT = Path(__file__).resolve().parents[2]
TS = "2026-11-22T10:00:00Z"


def event(i: int = 1, **overrides) -> dict:
    base = {"event_id": f"e-{i}", "customer_id": f"c-{i % 2}", "type": "checkout.started", "occurred_at": TS,
            "properties": {"checkout_id": f"k-{i}", "cart_value": 20.0}}
    return base | overrides


def segment_track(name: str = "Checkout Started", **props) -> dict:
    return {"type": "track", "messageId": "seg-1", "userId": "u-9", "event": name, "timestamp": TS,
            "properties": {"checkout_id": "k-9", **props}}


SEGMENT_IDENTIFY = {"type": "identify", "messageId": "seg-2", "userId": "u-9", "timestamp": TS,
                    "traits": {"email": "ada@example.com", "firstName": "Ada"}}


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


def make_client(publisher, **settings) -> httpx.AsyncClient:
    app = create_app(Settings(ingest_max_batch=5, **settings), publisher=publisher)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def client(publisher):
    async with make_client(publisher) as c:
        yield c


@pytest.mark.parametrize(
    ("path", "body", "expected_ids"),
    [
        ("/v1/events", event(1), ["e-1"]),  # one event
        ("/v1/events", [event(1), event(2), event(3)], ["e-1", "e-2", "e-3"]),  # a batch, order kept
        ("/v1/events", segment_track(), ["seg-1"]),  # Segment message recognised on /v1/events
        ("/v1/segment", [segment_track(), SEGMENT_IDENTIFY], ["seg-1", "seg-2"]),
        ("/v1/segment", {"batch": [SEGMENT_IDENTIFY]}, ["seg-2"]),  # Segment's batch shape
    ],
)
async def test_valid_events_are_published_then_acknowledged(client, publisher, path, body, expected_ids):
    response = await client.post(path, json=body)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": len(expected_ids), "event_ids": expected_ids}
    assert [e.event_id for e in publisher.published] == expected_ids


async def test_segment_messages_become_retain_events(client, publisher):
    await client.post("/v1/segment", json=[segment_track(), SEGMENT_IDENTIFY])
    track, identify = publisher.published
    assert (track.type, track.customer_id, track.source) == ("checkout.started", "u-9", "segment")
    assert (identify.type, identify.properties.first_name) == ("customer.profile", "Ada")


@pytest.mark.parametrize(
    ("path", "body", "expected_locs"),
    [
        # a missing payload field is named with its path
        ("/v1/events", event(1, properties={"cart_value": 3}), [["properties", "checkout_id"]]),
        # in a batch the index comes first; the valid neighbours are not published either
        ("/v1/events", [event(1), event(2, occurred_at="2026-11-22T10:00:00"), event(3)], [[1, "occurred_at"]]),
        ("/v1/events", [event(1, type="order.exploded")], [[0, "type"]]),
        ("/v1/events", [event(1, event_id=""), event(2, customer_id=None)], [[0, "event_id"], [1, "customer_id"]]),
        ("/v1/events", "just a string", [[]]),
        ("/v1/events", [], [[]]),
        # Segment errors name Segment's fields
        ("/v1/segment", segment_track("Product Viewed"), [["event"]]),
        ("/v1/segment", [SEGMENT_IDENTIFY | {"traits": {"timezone": "Mars/Base"}}], [[0, "traits", "timezone"]]),
        ("/v1/segment", SEGMENT_IDENTIFY | {"userId": None, "anonymousId": "a"}, [["userId"]]),
    ],
)
async def test_invalid_events_get_422_naming_the_field_and_nothing_is_published(
    client, publisher, path, body, expected_locs
):
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [error["loc"] for error in detail] == expected_locs
    assert all(error["msg"] for error in detail)
    assert publisher.published == []


async def test_error_responses_do_not_echo_contact_details(client):
    body = SEGMENT_IDENTIFY | {"traits": {"email": "not-an-address", "phone": "12"}}
    response = await client.post("/v1/segment", json=body)
    assert response.status_code == 422
    assert "not-an-address" not in response.text


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": [event(i) for i in range(6)]}, 413),  # more events than ingest_max_batch=5
        ({"content": b"x" * 2_000, "headers": {"content-type": "application/json"}}, 413),  # over the byte cap
        ({"content": json.dumps(event()), "headers": {"content-type": "text/plain"}}, 415),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ],
)
async def test_oversized_or_unreadable_requests_are_refused(publisher, kwargs, status):
    async with make_client(publisher, ingest_max_body_bytes=1_000) as client:
        response = await client.post("/v1/events", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert publisher.published == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no token
        ({"authorization": "Bearer wrong"}, 401),
        ({"authorization": "Basic s3cret"}, 401),  # right secret, but Basic wants base64
        ({"authorization": "Basic " + b64encode(b"wrong:").decode()}, 401),
        ({"authorization": "Bearer s3cret"}, 202),
        ({"authorization": "Basic " + b64encode(b"s3cret:").decode()}, 202),  # Segment: write key as user
        ({"authorization": "Basic " + b64encode(b":s3cret").decode()}, 202),  # or as the password
    ],
)
async def test_the_token_is_required_when_configured(publisher, headers, status):
    async with make_client(publisher, ingest_token="s3cret") as client:
        response = await client.post("/v1/events", json=event(), headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert len(publisher.published) == (1 if status == 202 else 0)


async def test_broker_failure_gives_503_with_retry_after(client, publisher):
    publisher.fail_with = "broker down"
    response = await client.post("/v1/events", json=[event(1), event(2)])
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["detail"].startswith("event broker unavailable") and "retry" in response.json()["detail"]
    assert publisher.published == []


async def test_health_and_readiness(client, publisher):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"broker": "ok", "database": "not configured"}
    publisher.fail_with = "broker down"
    not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["broker"].startswith("unreachable")


async def test_schema_endpoint_serves_the_published_schema(client):
    response = await client.get("/v1/schema/event.json")
    assert response.status_code == 200
    assert response.json() == json_schema()


def test_published_schema_file_is_up_to_date():
    render = runpy.run_path(str(ROOT / "schemas" / "write_event_schema.py"))["render"]
    assert (ROOT / "schemas" / "event.schema.json").read_text() == render(), (
        "schemas/event.schema.json is stale: run python schemas/write_event_schema.py"
    )


FAR_FUTURE = "9999-12-31T23:59:59+00:00"


@pytest.mark.parametrize(
    ("path", "body", "expected_loc"),
    [
        # issue 10 finding 1: this event was accepted and stopped time-based detection for everyone
        ("/v1/events", event(1, occurred_at=FAR_FUTURE), ["occurred_at"]),
        ("/v1/events", [event(1), event(2, occurred_at=FAR_FUTURE)], [1, "occurred_at"]),  # index in a batch
        ("/v1/segment", [segment_track(), {**segment_track(), "timestamp": FAR_FUTURE}], [1, "timestamp"]),
    ],
)
async def test_event_times_too_far_in_the_future_are_refused_naming_the_field(client, publisher, path, body,
                                                                              expected_loc):
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == expected_loc and error["type"] == "future_event_time"
    assert "in the future" in error["msg"]
    assert publisher.published == []  # nothing of the batch was published


async def test_event_time_skew_is_configurable(publisher):
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).isoformat()
    async with make_client(publisher) as default:  # 24 h allowed by default
        assert (await default.post("/v1/events", json=event(1, occurred_at=soon))).status_code == 202
    async with make_client(publisher, max_future_skew_seconds=3600) as strict:
        assert (await strict.post("/v1/events", json=event(2, occurred_at=soon))).status_code == 422


async def test_readiness_names_a_crashed_or_stale_stream_part(publisher):
    # Issue 10: /readyz said ready while no tick fired for anyone. It reads the worker's Health.
    from infra.health import Health

    clock = type("Clock", (), {"now": dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)})()
    health = Health(clock=lambda: clock.now)
    agent = health.register("signals.agent")
    ticks = health.register("signals.ticks", stale_after=dt.timedelta(seconds=10))
    app = create_app(Settings(), publisher=publisher)
    app.state.health = health
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        agent.ok(), ticks.ok()
        assert (await client.get("/readyz")).status_code == 200
        agent.failed("crashed: OverflowError: date value out of range")
        body = (await client.get("/readyz")).json()
        assert body["status"] == "not ready" and body["checks"]["signals.agent"].startswith("failed: crashed")
        agent.ok()
        clock.now += dt.timedelta(seconds=11)  # no tick for longer than promised
        response = await client.get("/readyz")
        assert response.status_code == 503 and response.json()["checks"]["signals.ticks"].startswith("stale")
