"""Real HTTP calls through retain's logging: no unsubscribe token, address or number reaches a log line.

httpx logs every request URL at INFO; retain's own unsubscribe and preference URLs carry a signed
token that unsubscribes (or opens the preferences of) a real customer, so such a line is a
credential in the log. The records here come from real httpx calls to a local server.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote

import httpx
import pytest

from infra.logs import configure_logging
from outreach.tokens import UNSUBSCRIBE, make_token, unsubscribe_url
from tests.fakes.http_server import FakeServer, Reply
from tests.logging_state import restored_logging

pytestmark = pytest.mark.integration

TOKEN = make_token(b"s" * 32, purpose=UNSUBSCRIBE, customer_id="c-42", channel="email", topic="marketing",
                   now=dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc))
EMAIL, PHONE = "ada@example.com", "+4915112345678"


class Echo(FakeServer):
    """200 for every path except /missing (404)."""

    def handle(self, method, path, headers, body):
        return Reply(404 if path.startswith("/missing") else 200, {"ok": True})


@pytest.fixture
def server():
    with Echo() as running:
        yield running


@pytest.fixture
def retain_logging():
    """retain's logging as ``retain up`` configures it; the process's logging restored afterwards."""
    with restored_logging():
        yield configure_logging


def _urls(base: str) -> list[str]:
    return [unsubscribe_url(base, TOKEN), f"{base}/outreach/preferences?token={quote(TOKEN)}&email={quote(EMAIL)}",
            f"{base}/sms?to={quote(PHONE)}"]


@pytest.mark.parametrize("json_logs", [True, False])
def test_http_client_logs_carry_no_token_address_or_number(server, retain_logging, capsys, json_logs):
    retain_logging(json_logs=json_logs)
    for url in _urls(server.url):
        httpx.post(url, data={"List-Unsubscribe": "One-Click"})
    # Someone debugging turns the client's request lines back on: they are still redacted.
    logging.getLogger("httpx").setLevel(logging.INFO)
    for url in _urls(server.url):
        httpx.post(url)
    output = capsys.readouterr().err
    assert output.count("HTTP Request: POST") == 3  # only the second round was logged
    assert "/outreach/unsubscribe?token=[redacted]" in output  # the line still says what was called
    for secret in (TOKEN, quote(TOKEN), EMAIL, quote(EMAIL), PHONE, quote(PHONE)):
        assert secret not in output


def test_a_failed_call_logged_with_its_traceback_leaks_nothing(server, retain_logging, capsys):
    retain_logging()
    try:
        httpx.get(f"{server.url}/missing?token={TOKEN}&email={quote(EMAIL)}").raise_for_status()
    except httpx.HTTPStatusError:
        logging.getLogger("retain.test").exception("support hand-off to %s failed", EMAIL)
    output = capsys.readouterr().err
    assert "HTTPStatusError" in output and "404" in output
    assert TOKEN not in output and EMAIL not in output and quote(EMAIL) not in output


def test_the_stream_workers_own_log_setup_redacts_too(retain_logging, capsys):
    # `retain worker` logs through faust's handlers, not configure_logging's.
    from infra.settings import Settings
    from infra.stream_app import create_app
    from retain.worker import RedactingWorker

    worker = RedactingWorker(create_app(Settings(), broker_url="kafka://127.0.0.1:1"), loglevel="info",
                             redirect_stdouts=False)
    worker._setup_logging()  # what faust.Worker does first when it starts
    logging.getLogger("retain.test").info("unsubscribe %s for %s", unsubscribe_url("http://h", TOKEN), EMAIL)
    output = capsys.readouterr().err
    assert "unsubscribe http://h/outreach/unsubscribe?token=[redacted] for [email]" in output
    assert logging.getLogger("httpx").level == logging.WARNING
