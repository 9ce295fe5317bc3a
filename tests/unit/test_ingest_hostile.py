"""Hostile and careless bodies on the ingest routes: each gets a 4xx naming where, and nothing is published."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.settings import Settings
from retain.api import create_app
from signals.publisher import InMemoryEventPublisher

TS = "2026-11-22T10:00:00Z"


def event(i: int = 1, **properties) -> dict:
    return {"event_id": f"e-{i}", "customer_id": f"c-{i}", "type": "checkout.started", "occurred_at": TS,
            "properties": {"checkout_id": f"k-{i}", "cart_value": 20.0, **properties}}


def raw(text: str | bytes) -> dict:
    return {"content": text.encode() if isinstance(text, str) else text, "headers": {"content-type": "application/json"}}


@pytest.fixture
def publisher() -> InMemoryEventPublisher:
    return InMemoryEventPublisher()


@pytest.fixture
async def client(publisher):
    app = create_app(Settings(), publisher=publisher)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


GOOD = json.dumps(event(1))
PROFILE_EVENT = {"event_id": "p-1", "customer_id": "c-1", "type": "customer.profile", "occurred_at": TS,
                 "properties": {"email": "ada@example.com", "phone": "+14155550123", "time_zone": "Europe/Berlin",
                                "consent": {"email_marketing": True}}}

# (request, status, what the error must name); every case: nothing published.
CASES = [
    # 100,000 nested arrays used to raise RecursionError (500)
    pytest.param(raw("[" * 100_000), 400, "depth", id="deep-nesting-not-json"),
    pytest.param(raw("[" * 100_000 + "]" * 100_000), 400, "depth", id="deep-nesting-closed"),
    # valid JSON, but nested deeper than the events allow: 422 with the path of the deep value
    pytest.param({"json": event(1, extra=json.loads("[" * 40 + "]" * 40))}, 422, "properties", id="deep-property"),
    # non-standard numbers: Python's json module accepts them, JSON does not
    pytest.param(raw(GOOD.replace("20.0", "Infinity")), 400, "column", id="Infinity"),
    pytest.param(raw(GOOD.replace("20.0", "NaN")), 400, "column", id="NaN"),
    pytest.param(raw(GOOD.replace("20.0", "1e400")), 400, "column", id="overflowing-number"),
    # a string that pydantic would read as a non-finite float
    pytest.param({"json": event(1, cart_value="Infinity")}, 422, "cart_value", id="Infinity-as-string"),
    # invalid Unicode: a lone surrogate escape, and raw bytes that are not UTF-8
    pytest.param(raw(GOOD.replace("k-1", "k-\\ud800")), 400, "surrogate", id="lone-surrogate"),
    pytest.param(raw(GOOD.encode().replace(b"k-1", b"k-\xff")), 400, "UTF-8", id="not-utf8"),
    pytest.param(raw(b"\xef\xbb\xbf" + GOOD.encode()), 400, "byte order mark", id="bom"),
    # NUL cannot be stored in PostgreSQL text; name the field
    pytest.param({"json": event(1, note="a\u0000b")}, 422, "note", id="nul-in-string"),
    pytest.param({"json": [event(1), event(2) | {"customer_id": "c\u00002"}]}, 422, "customer_id", id="nul-in-id"),
]


@pytest.mark.parametrize(("request_kwargs", "status", "named"), CASES)
async def test_hostile_bodies_get_a_4xx_naming_where_and_nothing_is_published(client, publisher, request_kwargs,
                                                                            status, named):
    response = await client.post("/v1/events", **request_kwargs)
    assert response.status_code == status, response.text
    assert named in response.text
    assert publisher.published == []


async def test_a_deep_value_is_named_by_its_path_and_index(client, publisher):
    body = [event(1), event(2, extra={"a": json.loads("[" * 40 + "]" * 40)})]
    response = await client.post("/v1/events", json=body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"][:4] == [1, "properties", "extra", "a"]
    assert error["type"] == "too_deep"


async def test_what_is_published_is_standard_json(client, publisher):
    # Python's json would write NaN for a float NaN; nothing non-standard may reach the topic.
    response = await client.post("/v1/events", json=[event(1, note="\u00e9\U0001f600")])
    assert response.status_code == 202
    (record,) = publisher.records
    assert orjson.loads(record.value)["properties"]["note"] == "\u00e9\U0001f600"


async def test_an_event_over_the_producer_limit_is_413_naming_its_index(publisher):
    publisher.max_record_bytes = 10_000
    app = create_app(Settings(), publisher=publisher)
    body = [event(1), event(2), event(3, blob="x" * 12_000)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/v1/events", json=body)
    assert response.status_code == 413
    (error,) = response.json()["detail"]
    assert error["loc"] == [2]
    assert "10000" in error["msg"]
    assert publisher.published == []



@pytest.mark.parametrize("value", ["9" * 23, 10**19])
async def test_an_integer_beyond_64_bits_is_422_naming_the_field(client, publisher, value):
    # Pydantic reads "999...9" (23 digits) into an int that no JSON encoder of ours can write: it was a 500.
    body = {"event_id": "u-1", "customer_id": "c-1", "type": "product.usage", "occurred_at": TS,
            "properties": {"sessions": value}}
    response = await client.post("/v1/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["properties", "sessions"]
    assert publisher.published == []


# Any JSON value (strings of digits, huge numbers, deep containers) in place of any field of valid events.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text() | st.from_regex(r"-?[0-9]{1,40}(\.[0-9]+)?(e[0-9]{1,4})?", fullmatch=True),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)
FIELDS = [("event_id",), ("customer_id",), ("occurred_at",), ("type",), ("properties",),
          ("properties", "checkout_id"), ("properties", "cart_value"), ("properties", "items"),
          ("properties", "currency"), ("properties", "extra"), ("properties", "email"), ("properties", "phone"),
          ("properties", "time_zone"), ("properties", "locale"), ("properties", "consent", "email_marketing")]


@settings(max_examples=300, deadline=None, database=None)
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES, profile=st.booleans())
def test_any_value_in_any_field_gets_202_or_a_4xx_naming_where(field, value, profile):
    from fastapi.testclient import TestClient

    body = PROFILE_EVENT if profile else event(1)
    body = json.loads(json.dumps(body))
    target = body
    for part in field[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            return  # an earlier part already replaced by a non-object: nothing to put it in
    target[field[-1]] = value
    publisher = InMemoryEventPublisher()
    with TestClient(create_app(Settings(), publisher=publisher)) as client:
        response = client.post("/v1/events", content=json.dumps([body]).encode(),  # big ints as digits
                               headers={"content-type": "application/json"})
    assert response.status_code in (202, 422), response.text
    if response.status_code == 422:
        assert all(p["loc"] and p["msg"] for p in response.json()["detail"])
        assert publisher.published == []
    else:
        (record,) = publisher.records
        orjson.loads(record.value)  # what is published is standard JSON


async def test_a_broker_with_a_lower_limit_than_ours_gets_413_not_503(publisher):
    # The broker's message.max.bytes below RETAIN_INGEST_MAX_EVENT_BYTES: resending cannot help.
    publisher.broker_limit = 5_000
    app = create_app(Settings(), publisher=publisher)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/v1/events", json=[event(1), event(2, blob="x" * 6_000)])
    assert response.status_code == 413 and "retry-after" not in response.headers
    assert response.json()["detail"][0]["loc"] == [1]
    assert "may be on the topic" in response.json()["message"]
