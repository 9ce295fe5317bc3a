"""Logs never carry contact details, whichever way they get into a record."""

from __future__ import annotations

import json
import logging

import pytest

from infra.logs import JsonFormatter, redact


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
