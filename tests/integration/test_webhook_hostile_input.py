"""Hostile requests to the outreach webhooks and pages: oversized, malformed but correctly signed, odd fields.

Each gets a 4xx naming what is wrong, never a 5xx; an oversized body is refused while it streams
in (the reader stops after the cap, whatever the sender says it will send); a malformed event in a
signed SendGrid batch does not cost the batch's good events.
"""

from __future__ import annotations

import json

import pytest

from outreach.webhooks.requests import MAX_FORM_BYTES
from outreach.webhooks.sendgrid_webhook import MAX_BODY_BYTES as MAX_SENDGRID_BYTES
from tests.fakes.webhook_world import EMAIL, PHONE, World
from tests.streamed_body import Offered, post_streamed

pytestmark = pytest.mark.integration

CHUNK = 65_536
CHUNKS = 300  # 19.7 MB offered: more than every cap below
SENDGRID_HEADERS = {"Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": "c2ln",
                    "X-Twilio-Email-Event-Webhook-Timestamp": "1"}
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "c2ln"}

# Every webhook and form route that takes a body, and the most it accepts.
BODY_ROUTES = [
    ("/outreach/twilio/inbound", FORM_HEADERS, MAX_FORM_BYTES),
    ("/outreach/twilio/status", FORM_HEADERS, MAX_FORM_BYTES),
    ("/outreach/preferences", FORM_HEADERS, MAX_FORM_BYTES),
    ("/outreach/sendgrid/events", SENDGRID_HEADERS, MAX_SENDGRID_BYTES),
]


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


@pytest.mark.parametrize(("path", "headers", "cap"), BODY_ROUTES)
async def test_a_huge_streamed_body_is_refused_after_the_cap_not_read_to_the_end(world, path, headers, cap):
    body = Offered(CHUNKS, CHUNK)
    answer = await post_streamed(world.app, path, body, headers)
    assert answer.status_code == 413, answer.text
    # At most the cap (plus the chunk that passed it) was ever read: memory stays bounded by the cap.
    assert body.pulled <= cap // CHUNK + 1 < CHUNKS


@pytest.mark.parametrize(("path", "headers", "cap"), BODY_ROUTES)
async def test_a_declared_oversized_body_is_refused_before_reading_any_of_it(world, path, headers, cap):
    body = Offered(CHUNKS, CHUNK)
    answer = await post_streamed(world.app, path, body, {**headers, "Content-Length": str(cap + 1)})
    assert answer.status_code == 413 and body.pulled == 0
    assert answer.json()["detail"] == f"request body larger than {cap} bytes"


async def test_one_click_unsubscribe_never_reads_a_body(world):
    # RFC 8058's body is always "List-Unsubscribe=One-Click": the token in the URL is all that counts.
    body = Offered(CHUNKS, CHUNK)
    answer = await post_streamed(world.app, "/outreach/unsubscribe?token=t", body, FORM_HEADERS)
    assert answer.status_code == 400 and body.pulled == 0


def _sg(message_id: str | None, **fields) -> dict:
    return {"event": "spamreport", "sg_event_id": "ev-good", "message_id": message_id, "email": EMAIL,
            "timestamp": 1_795_000_000, **fields}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"timestamp": 1e30}, "timestamp"),  # past any datetime: OverflowError
        ({"timestamp": -1e20}, "timestamp"),
        ({"timestamp": []}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"message_id": ["m1"]}, "message_id"),  # a list handed to SQL
        ({"message_id": {"$ne": None}}, "message_id"),
        ({"message_id": "m" * 500}, "message_id"),
        ({"email": 42}, "email"),
        ({"email": ["a@example.com"]}, "email"),
        ({"email": "a" * 400 + "@example.com"}, "email"),
        ({"sg_event_id": 7}, "sg_event_id"),
        ({"sg_event_id": "e" * 300}, "sg_event_id"),  # longer than the stored event key
        ({"sg_event_id": ""}, "sg_event_id"),
        ({"event": ["spamreport"]}, "event"),  # unhashable kind
        ({"event": "group_unsubscribe", "asm_group_id": {"x": 1}}, "asm_group_id"),  # would become a consent topic
        ({"event": "group_unsubscribe"}, "asm_group_id"),  # no group: no topic to opt out of
        ({"event": "bounce", "type": ["bounce"]}, "type"),
    ],
)
def test_a_signed_event_with_a_malformed_field_gets_400_naming_it(world, bad, field):
    sent = world.send()
    answer = world.sendgrid([{**_sg(sent.message_id), **bad}])
    assert answer.status_code == 400, answer.text
    assert f"events[0].{field}" in json.dumps(answer.json()["detail"])
    assert world.changes() == [] and world.status("email", "marketing") == "unknown"


def test_non_finite_numbers_in_a_signed_batch_get_400(world):
    answer = world.sendgrid('[{"event": "spamreport", "sg_event_id": "e1", "timestamp": Infinity}]')
    assert answer.status_code == 400 and "Infinity" in answer.json()["detail"]


def test_one_bad_event_costs_only_itself_the_good_ones_are_stored(world):
    # SendGrid retries a refused batch for a day; an opt-out beside a malformed event must not wait for it.
    sent = world.send()
    good, bad = _sg(sent.message_id), _sg(sent.message_id, sg_event_id="ev-bad", timestamp="soon")
    answer = world.sendgrid([good, bad])
    assert answer.status_code == 400
    body = answer.json()
    assert body["accepted"] == 1 and "events[1].timestamp" in json.dumps(body["detail"])
    assert world.status("email", "marketing") == "opted_out"
    assert world.sendgrid([good, bad]).json()["accepted"] == 1  # the retry is harmless (keyed by sg_event_id)
    assert len(world.changes()) == 1


def test_twilio_message_sid_longer_than_any_sid_gets_400(world):
    form = {"MessageSid": "SM" + "9" * 300, "From": PHONE, "To": "+15005550006", "Body": "STOP"}
    answer = world.twilio("/outreach/twilio/inbound", form)
    assert answer.status_code == 400 and "MessageSid" in answer.text
    assert world.changes() == []
