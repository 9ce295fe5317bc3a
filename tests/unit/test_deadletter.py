"""infra.deadletter: a dead-letter record always fits every producer, and says what it could not keep.

Issue 10 finding 3: 900 KB of ``\\x01`` bytes on ``events`` fit the broker, but its JSON-escaped
dead-letter record (5.4 MB) did not fit the producer, and the agent crashed with no record kept.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import inspect
import json

import pytest
from aiokafka import AIOKafkaProducer

from infra.deadletter import MAX_RECORD_BYTES, deadletter_key, deadletter_record, original_payload
from infra.settings import Settings
from infra.stream_app import create_app

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def record(raw, *, key=b"c1", reason="invalid event: (event): Invalid JSON"):
    return deadletter_record(raw=raw, reason=reason, stage="signals.parse", topic="events", partition=0, offset=7,
                             key=key, now=NOW)


def size(value: dict) -> int:
    # The largest any JSON encoder here writes it: stdlib with ASCII escapes and spaced separators.
    return len(json.dumps(value).encode())


@pytest.mark.parametrize("raw, encoding", [
    (b"\x01" * 900 * 1024, "utf-8"),  # the reported record: each byte becomes \u0001 (6x)
    ("\U0001f600".encode() * 300_000, "utf-8"),  # astral characters: 12 bytes each when escaped
    (b"\xff\xfe" * 1_000_000, "base64"),  # not UTF-8: base64 of a prefix
    ("é".encode() * 2_000_000, "utf-8"),
])
def test_oversized_payload_is_truncated_with_its_length_and_digest(raw, encoding):
    value = record(raw)
    assert size(value) <= MAX_RECORD_BYTES
    assert value["payload_truncated"] is True
    assert value["payload_encoding"] == encoding
    assert value["payload_bytes"] == len(raw)
    assert value["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    kept = base64.b64decode(value["payload"]) if encoding == "base64" else value["payload"].encode()
    assert raw.startswith(kept) and len(kept) > 10_000  # a useful prefix, not an empty one
    assert original_payload(value) is None  # a truncated payload cannot be replayed as it was


def test_small_payload_is_kept_whole_and_replayable():
    raw = b'{"event_id": "e1"}'
    value = record(raw)
    assert value["payload_truncated"] is False and value["payload"] == raw.decode()
    assert value["payload_bytes"] == len(raw) and value["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    assert original_payload(value) == raw


def test_huge_key_and_reason_are_cut_too():
    key = b"k" * 900_000
    value = record(b"x", key=key, reason=f"ValueError: record key {key!r} does not match customer_id 'c'")
    assert size(value) <= MAX_RECORD_BYTES
    assert value["key"].startswith("kkk") and len(value["key"]) < 2000
    assert value["reason"].startswith("ValueError: record key") and len(value["reason"]) < 5000
    assert len(deadletter_key(key)) <= 256 and deadletter_key(b"c1") == b"c1"


def test_the_record_limit_fits_every_producer_that_writes_deadletter():
    faust_app = create_app(Settings(), broker_url="kafka://127.0.0.1:9")
    key_and_headers = 1024  # deadletter_key is at most 256 bytes; a record batch adds < 100
    assert MAX_RECORD_BYTES + key_and_headers <= faust_app.conf.producer_max_request_size
    # outreach's producer uses aiokafka's default
    aiokafka_limit = inspect.signature(AIOKafkaProducer.__init__).parameters["max_request_size"].default
    assert MAX_RECORD_BYTES + key_and_headers <= aiokafka_limit
