"""Logs never carry contact details, whichever way they get into a record."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from infra.logs import JsonFormatter, RedactingFilter, redact


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("sent to ada@example.com", "ada@example.com"),
        ("sms to +14155552671 failed", "+14155552671"),
        ("call (415) 555-2671 now", "555-2671"),
        ("mixed a.b+c@mail.co.uk and +44 20 7946 0958", "7946"),
    ],
)
def test_redact_masks_contacts(text, leaked):
    assert leaked not in redact(text)


@pytest.mark.parametrize("text", ["order o-123 late by 36.5 hours", "customer c-00042 scored 0.81", "2026-11-22T10:00:00+00:00",
                                  "broker 127.0.0.1:42327", "events[3]@3507 partition 12345678"])
def test_redact_keeps_ordinary_text(text):
    assert redact(text) == text


def test_json_formatter_redacts_message_and_extras():
    record = logging.makeLogRecord(
        {"name": "t", "levelname": "INFO", "msg": "to %s", "args": ("ada@example.com",),
         "contact": {"phone": "+14155552671"}}
    )
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert "ada@example.com" not in line and "+14155552671" not in line
    assert payload["msg"] == "to [email]" and payload["contact"] == {"phone": "[phone]"}


TOKEN = "eyJwIjoidW5zdWJzY3JpYmUiLCJjIjoiYy0xIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi14eXo"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f'HTTP Request: POST http://127.0.0.1:8000/outreach/unsubscribe?token={TOKEN} "HTTP/1.1 200 OK"', TOKEN),
        (f"GET /outreach/preferences?lang=de&token={TOKEN[:20]}", TOKEN[:20]),  # a token cut short still goes
        (f"link {TOKEN} clicked", TOKEN),  # a bare signed token (or JWT)
        ("GET /x?email=ada%40example.com&to=%2B4915112345678", "%2B4915112345678"),
        ("GET /x?email=ada%40example.com", "ada%40example.com"),
        ("Authorization: Bearer rtn_abcdefghijklmnop", "rtn_abcdefghijklmnop"),
        ("token rtn_abcdefghijklmnop issued", "abcdefghijklmnop"),
        ("Authorization: Basic QUMxMjM6c2VjcmV0LXRva2Vu", "QUMxMjM6c2VjcmV0LXRva2Vu"),
        ("api key SG.abcdefghijkl.mnopqrstuvwxyz0123 refused", "mnopqrstuvwxyz0123"),
        ("openai key sk-proj-abcdefghijklmnopqrst", "abcdefghijklmnopqrst"),
        ("https://api.example.com/v1?api_key=s3cr3t-value&page=2", "s3cr3t-value"),
    ],
)
def test_redact_masks_tokens_and_keys(text, leaked):
    assert leaked not in redact(text)


@pytest.mark.parametrize("text", ["GET /healthz 200", "rule checkout-idle-nudge v2 saved", "?page=2&sort=asc",
                                  "idempotency_key=k-1 stored", "token expired for customer c-1"])
def test_redact_keeps_ordinary_text_about_tokens(text):
    assert redact(text) == text


def test_the_filter_redacts_message_args_extras_and_traceback_for_every_handler():
    try:
        raise ValueError(f"bad link http://h/outreach/unsubscribe?token={TOKEN} for ada@example.com")
    except ValueError:
        record = logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "failed for %s", ("+14155552671",),
                                                   sys.exc_info(), extra={"url": f"/p?token={TOKEN}"})
    assert RedactingFilter().filter(record) is True
    plain = logging.Formatter("%(message)s %(url)s").format(record)
    for secret in (TOKEN, "ada@example.com", "+14155552671"):
        assert secret not in plain
    assert "failed for [phone]" in plain and "ValueError" in plain  # what happened is still there
