"""compose: draft -> guardrails -> one retry with the failures explained -> template fallback."""

from __future__ import annotations

import pytest

from outreach.drafting.brief import DraftRequest, PrivateFacts
from outreach.drafting.compose import compose
from outreach.drafting.draft import Draft, DraftResult
from outreach.drafting.system_parts import SystemParts
from outreach.drafting.template import TemplateDrafter
from outreach.guardrails import GuardrailLimits

FACTS = {"order_id": "O-1001", "new_delivery_date": "2026-11-25"}
SYSTEM = SystemParts("Shop", "Shop GmbH, Hauptstraße 5, 10115 Berlin")
UNSUB = "https://shop.test/u/t1"
GOOD_SMS = "Hi Anna, your order O-1001 is running late, sorry. It should now arrive on 25 November 2026."
GOOD_BODY = GOOD_SMS + " Just reply to this message if you need anything from us."


class ScriptedDrafter:
    """Returns the given results in order and records the problems it was told about."""

    name = "llm"

    def __init__(self, *results: DraftResult):
        self.results = list(results)
        self.problems: list = []

    def draft(self, request, *, problems=None):
        self.problems.append(problems)
        return self.results.pop(0)


def ok(body: str, subject: str = "Your order O-1001 is late") -> DraftResult:
    return DraftResult(drafter="llm", draft=Draft(body=body, subject=subject, preheader="An update"), model="m",
                       prompt=[{"role": "user", "content": "p"}], prompt_tokens=100, completion_tokens=20,
                       latency_ms=5.0, finish_reason="stop")


def failed(failure: str) -> DraftResult:
    return DraftResult(drafter="llm", failure=failure, detail=f"{failure} happened", model="m", latency_ms=1.0)


def _request(channel: str = "email", topic: str = "service", **kw) -> DraftRequest:
    return DraftRequest(channel=channel, topic=topic, rule_id="r", brief="b", tone="t", signal_kind="shipping_delay",
                        signal_reason="eta_slip", facts=FACTS, first_name="Anna",
                        private=PrivateFacts(email="anna@example.org"), **kw)


def _compose(drafter, channel="email", system=SYSTEM, topic="service", **kw):
    request = _request(channel, topic, unsubscribe_url=UNSUB, allowed_links=(UNSUB,), **kw)
    return compose(request, drafter=drafter, fallback=TemplateDrafter(), system=system)


@pytest.mark.parametrize(
    ("script", "drafter", "attempts", "retry_told"),
    [
        ([ok(GOOD_BODY)], "llm", 1, None),  # good at once
        ([ok(GOOD_BODY.replace("25 November", "28 November")), ok(GOOD_BODY)], "llm", 2, "facts"),  # fixed on retry
        ([ok(GOOD_BODY + " See https://x.example.com"), ok(GOOD_BODY + " 20% off!")], "template", 3, "links"),
        ([failed("refusal"), ok(GOOD_BODY)], "llm", 2, "model_output"),  # a refusal is a failed draft
        ([failed("length"), failed("length")], "template", 3, "model_output"),  # truncated twice
        ([failed("timeout")], "template", 2, None),  # unavailable: no retry, straight to the template
        ([failed("api_error")], "template", 2, None),
        ([ok(GOOD_BODY.replace("25 November", "28 November")), failed("timeout")], "template", 3, "facts"),
    ],
)
def test_pipeline(script, drafter, attempts, retry_told):
    scripted = ScriptedDrafter(*script)
    message = _compose(scripted)
    assert message.drafter == drafter
    assert len(message.attempts) == attempts
    assert message.passed
    assert scripted.results == []  # never more than one retry
    if retry_told:
        assert scripted.problems[0] is None
        assert retry_told in [p["check"] for p in scripted.problems[1]]
    else:
        assert len(scripted.problems) == 1
    assert message.attempts[-1].drafter == drafter


def test_record_carries_every_attempt_and_the_llm_usage():
    message = _compose(ScriptedDrafter(ok(GOOD_BODY.replace("25 November", "28 November")), ok(GOOD_BODY)))
    record = message.to_record()
    facts = [next(g["passed"] for g in a["guardrails"] if g["name"] == "facts") for a in record["attempts"]]
    assert facts == [False, True]
    assert (record["model"], record["prompt_tokens"], record["completion_tokens"]) == ("m", 200, 40)
    assert record["latency_ms"] == pytest.approx(10.0)
    assert {g["name"] for g in record["guardrails"]} >= {"links", "offers", "facts", "personal_data", "language"}


def test_no_llm_configured_uses_the_template_directly():
    message = _compose(None)
    assert (message.drafter, len(message.attempts), message.model, message.prompt) == ("template", 1, None, [])


def test_email_gets_the_system_footer():
    message = _compose(ScriptedDrafter(ok(GOOD_BODY)))
    assert message.text.startswith(GOOD_BODY)
    footer = message.text.split("\n--\n", 1)[1]
    assert "Sent by Shop" in footer and "Shop GmbH, Hauptstraße 5, 10115 Berlin" in footer
    assert footer.endswith(f"Unsubscribe: {UNSUB}")
    assert "drafted with the help of AI" not in message.text  # disclosure is off by default
    assert UNSUB in message.html and "Hauptstraße 5" in message.html


def test_sms_gets_sender_and_opt_out_line_counted_in_segments():
    message = _compose(ScriptedDrafter(ok(GOOD_SMS, subject="")), channel="sms")
    assert message.text == f"Shop: {GOOD_SMS}\nReply STOP to opt out"
    assert message.html is None and message.subject == ""


def test_footer_pushing_sms_past_the_limit_fails_the_draft():
    body = "a " * 70  # 140 chars: fits alone, not with sender and opt-out line in one segment
    message = _compose(ScriptedDrafter(ok(body, ""), ok(body, "")), channel="sms", limits=GuardrailLimits(sms_max_segments=1))
    first = {g.name: g for g in message.attempts[0].guardrails}
    assert not first["sms_segments"].passed
    assert message.drafter == "template"


@pytest.mark.parametrize(("drafter", "disclosed"), [("llm", True), ("template", False)])
def test_ai_disclosure_only_on_ai_drafts(drafter, disclosed):
    system = SystemParts("Shop", "Shop GmbH, Hauptstraße 5, 10115 Berlin", ai_disclosure=True)
    scripted = ScriptedDrafter(ok(GOOD_BODY)) if drafter == "llm" else None
    message = _compose(scripted, system=system)
    assert ("drafted with the help of AI" in message.text) is disclosed


def test_marketing_email_needs_an_unsubscribe_link():
    with pytest.raises(ValueError, match="unsubscribe_url"):
        compose(_request("email", "marketing"), drafter=None, fallback=TemplateDrafter(), system=SYSTEM)


def test_settings_supply_sender_address_disclosure_and_segment_limit():
    from infra.settings import Settings

    framing = Settings(sender_name="Acme", postal_address="Acme Ltd, 2 Road, London", ai_disclosure=True,
                       sms_max_segments=1).message_framing
    system, limits = SystemParts.from_settings(framing), GuardrailLimits.from_settings(framing)
    too_long = ScriptedDrafter(ok("a " * 70, ""), ok("a " * 70, ""))  # fits alone, not with sender and opt-out
    message = compose(_request("sms", limits=limits), drafter=too_long, fallback=TemplateDrafter(), system=system)
    first = {g.name: g for g in message.attempts[0].guardrails}
    assert "limit 1" in first["sms_segments"].detail
    email = compose(_request("email", limits=limits), drafter=ScriptedDrafter(ok(GOOD_BODY)),
                    fallback=TemplateDrafter(), system=system)
    assert "Sent by Acme\nAcme Ltd, 2 Road, London" in email.text and "drafted with the help of AI" in email.text
