"""Provider calls feed ``retain_provider_latency_seconds``: SendGrid, Twilio and the LLM, ok and error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from outreach.channels.base import SendError
from infra.metrics import provider_calls
from tests.fakes.console_world import build_world
from tests.fakes.http_server import Fault
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.sendgrid_api import FakeSendGrid
from tests.fakes.twilio_api import FakeTwilio
from tests.integration.test_drafting_llm import _compose
from tests.integration.test_outreach_channels import (
    _email,
    _sendgrid_channel,
    _sms,
    _twilio_channel,
)

pytestmark = pytest.mark.integration


def _count(provider: str, outcome: str) -> float:
    """The histogram's observation count for one provider and outcome (0 when never observed)."""
    return provider_calls(provider, outcome)


def test_sendgrid_sends_are_timed_ok_and_error_and_show_in_metrics(tmp_path):
    before_ok, before_error = _count("sendgrid", "ok"), _count("sendgrid", "error")
    with FakeSendGrid() as fake:
        _sendgrid_channel(fake).send(_email())
        _sendgrid_channel(fake).send(_email())
        fake.script(Fault(503, {"errors": [{"message": "unavailable"}]}))
        with pytest.raises(SendError):
            _sendgrid_channel(fake).send(_email())
    assert (_count("sendgrid", "ok") - before_ok, _count("sendgrid", "error") - before_error) == (2, 1)

    text = TestClient(build_world(tmp_path).app).get("/metrics").text
    ok = _count("sendgrid", "ok")
    assert f'retain_provider_latency_seconds_count{{outcome="ok",provider="sendgrid"}} {ok!r}\n' in text
    assert 'retain_provider_latency_seconds_bucket{le="+Inf",outcome="error",provider="sendgrid"}' in text


def test_twilio_sends_are_timed():
    before = _count("twilio", "ok")
    with FakeTwilio() as fake:
        _twilio_channel(fake).send(_sms())
    assert _count("twilio", "ok") - before == 1


@pytest.mark.parametrize(
    ("scenario", "outcome"),
    [
        ("good", "ok"),  # an answer, whatever its content, is a successful call
        ("server_error", "error"),  # the API failed: the drafter falls back, the call is timed as an error
    ],
)
def test_llm_calls_are_timed(scenario, outcome):
    before = _count("llm", outcome)
    with FakeOpenAI() as fake:
        fake.script(scenario)
        _compose(fake, "email")
    assert _count("llm", outcome) - before == 1
