"""The rule builder, preview and backtest charts through the real app: pages, the live-builder route, the preview API."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from outreach.outbox.records import DeliveryEventRecord, OutboxRecord
from retain.console.records import ConsoleAuditRecord
from retain.console.rule_builder import NEW_RULE
from retain.console.rule_editing import rule_yaml
from retain.console.rule_form import fields_of
from signals.records import SignalRecord
from tests.fakes.console_world import build_world, client_for
from tests.fakes.html_form import as_data, form_fields
from triggers.loader import load_rules
from triggers.records import DecisionRecord, RuleProposalRecord

pytestmark = pytest.mark.integration

NUDGE = "checkout-idle-nudge"
# 05:00 UTC: 06:00 in Berlin, before the SMS window opens at 08:00.
EARLY = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("builder"), history=True)
    world.app.state.clock = lambda: EARLY
    return world


@pytest.fixture(scope="module")
def editor(world):
    return client_for(world, "editor")


def page_form(client, url: str) -> list[tuple[str, str]]:
    return form_fields(client.get(url).text, "rule-form")


@pytest.mark.parametrize("rule_id", ["checkout-idle-nudge", "shipping-delay-notice", "shipping-delay-goodwill",
                                     "usage-drop-winback"])
def test_the_page_form_syncs_to_the_yaml_it_shows(world, editor, rule_id):
    # What the browser posts from the page as served writes exactly the YAML beside it.
    fields = page_form(editor, f"/console/rules/{rule_id}")
    answer = editor.post("/console/rule-builder", data=as_data([*fields, ("source", "form"), ("rule_id", rule_id)]))
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] and body["errors"] == []
    assert body["yaml"] == rule_yaml(load_rules(world.rules_dir).get(rule_id)) == dict(fields)["yaml"]


def test_a_form_mistake_comes_back_next_to_its_field(editor):
    fields = [(n, "lots" if n == "r.priority" else v) for n, v in page_form(editor, f"/console/rules/{NUDGE}")]
    body = editor.post("/console/rule-builder", data=as_data([*fields, ("source", "form"), ("rule_id", NUDGE)])).json()
    assert not body["valid"]
    assert [(e["path"], e["field"]) for e in body["errors"]] == [("r.priority", "priority")]
    assert "priority: lots" in body["yaml"]  # the YAML says what the form says, mistake included
    assert 'data-error-for="r.priority">Input should be a valid integer' in body["html"]


def test_yaml_typed_in_the_expert_view_rebuilds_the_form(editor):
    text = rule_yaml(load_rules_from(editor, NUDGE)).replace("cooldown: 7d", "cooldown: 3d")
    body = editor.post("/console/rule-builder", data={"source": "yaml", "yaml": text, "rule_id": NUDGE}).json()
    assert body["valid"] and 'name="r.cooldown" value="3d"' in body["html"]
    broken = editor.post("/console/rule-builder", data={"source": "yaml", "yaml": "id: [", "rule_id": NUDGE}).json()
    assert broken["html"] is None and broken["errors"][0]["field"] == "(yaml)"


def load_rules_from(client, rule_id: str):
    rules = client.app.state.settings.rules_dir
    return load_rules(rules).get(rule_id)


def test_without_javascript_a_builder_button_rewrites_the_yaml_and_saves_nothing(world, editor):
    before = (world.rules_dir / "checkout_idle.yaml").read_text()
    fields = page_form(editor, f"/console/rules/{NUDGE}")
    answer = editor.post(f"/console/rules/{NUDGE}", data=as_data([*fields, ("edit", "add:r.when")]))
    assert answer.status_code == 200
    shown = dict(form_fields(answer.text, "rule-form"))
    assert shown["r.when.all.2.field"] == "risk.bucket"
    assert shown["yaml"].count("- field:") == 3
    assert (world.rules_dir / "checkout_idle.yaml").read_text() == before


def test_a_new_rule_built_with_the_form_is_proposed_not_in_force(world, editor):
    content = {**NEW_RULE, "id": "cart-rescue", "signals": ["checkout_idle"],
               "when": {"all": [{"field": "signal.cart_value", "op": ">=", "value": 50}]},
               "action": {**NEW_RULE["action"], "brief": "Remind them the cart is saved."}}
    page = editor.post("/console/new-rule", data=as_data([("csrf_token", editor.headers["X-CSRF-Token"]),
                                                  *fields_of(content), ("edit", "sync")]))
    yaml_text = dict(form_fields(page.text, "rule-form"))["yaml"]
    saved = editor.post("/console/new-rule", data=as_data([*form_fields(page.text, "rule-form"), ("action", "save")]))
    assert saved.status_code == 200
    assert "waits for a different approver" in saved.text and 'class="flash proposed"' in saved.text
    assert not (world.rules_dir / "cart-rescue.yaml").exists()
    with Session(world.engine) as session:
        proposal = session.scalars(select(RuleProposalRecord).where(RuleProposalRecord.rule_id == "cart-rescue")).one()
    assert proposal.state == "pending" and "new rule" in " ".join(proposal.reasons)
    assert "cart_value" in yaml_text


def test_a_new_rule_cannot_take_an_existing_id(world, editor):
    content = {**NEW_RULE, "id": NUDGE, "signals": ["checkout_idle"], "action": {**NEW_RULE["action"], "brief": "x"}}
    answer = editor.post("/console/new-rule", data=as_data([("csrf_token", editor.headers["X-CSRF-Token"]),
                                                    *fields_of(content), ("yaml", rule_yaml(content)),
                                                    ("action", "save")]))
    assert answer.status_code == 422
    assert f"a rule {NUDGE!r} exists already" in answer.text.replace("&#39;", "'")


def counts(world) -> dict[str, int]:
    with Session(world.engine) as session:
        return {t.__name__: session.scalar(select(func.count()).select_from(t)) for t in
                (OutboxRecord, DecisionRecord, SignalRecord, DeliveryEventRecord, ConsoleAuditRecord)}


def test_preview_shows_each_channels_message_and_the_policy_outcome_and_stores_nothing(world, editor):
    before = counts(world)
    text = rule_yaml(load_rules(world.rules_dir).get(NUDGE))
    answer = editor.post("/api/rules/preview", json={"yaml": text, "sample": "sample-berlin"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    # SMS first in the nudge's channels, and at 06:00 in Berlin quiet hours hold it to 08:00 their time.
    assert result["outcome"].startswith("would defer to 08:00 their time (Tue 01 Dec, Europe/Berlin) by sms: quiet hours")
    assert result["decision"]["defer_until"] == "2026-12-01T07:00:00Z"
    sms, email = result["messages"]
    assert sms["channel"] == "sms" and sms["chosen"] and sms["sms"]["segments"] >= 1
    assert sms["unsubscribe_line"] == "Abmelden: STOP antworten"
    assert email["subject"] and email["unsubscribe_line"].startswith("Abmelden: http")
    assert "preview-link-does-nothing" in email["unsubscribe_line"]
    assert all(g["passed"] for m in result["messages"] for g in m["guardrails"])
    assert result["matched"]["conditions"]["result"] is True
    assert counts(world) == before  # nothing sent, nothing stored, nothing audited


def test_preview_for_a_stored_customer_uses_their_facts_history_and_signal(world, editor):
    text = rule_yaml(load_rules(world.rules_dir).get("shipping-delay-goodwill"))
    result = editor.post("/api/rules/preview", json={"yaml": text, "customer_id": "c-7"}).json()
    assert result["signal"]["source"] == "stored" and result["signal"]["attributes"]["order_id"] == "O-1007"
    assert result["risk"] == {"probability": 0.8, "bucket": "high"}  # as the stored decision scored it
    # c-7 had this rule's message two days ago: its 30-day cooldown holds.
    assert result["decision"]["reason"] == "cooldown"
    assert "O-1007" in result["messages"][0]["subject"] + result["messages"][0]["body"]
    assert "grace@example.com" not in str(result)  # the contact details never reach the message


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"yaml": "id: x\nversion: nope"}, 422, "version"),
    ({"yaml": rule_yaml({**NEW_RULE, "id": "p", "signals": ["usage_drop"],
                         "action": {**NEW_RULE["action"], "brief": "b"}}), "customer_id": "nobody"}, 404, "nobody"),
    ({"yaml": "id: x", "sample": "sample-mars"}, 422, "sample"),
])
def test_preview_refusals_name_what_is_wrong(editor, body, status, says):
    answer = editor.post("/api/rules/preview", json=body)
    assert answer.status_code == status and says in answer.text


def test_the_preview_page_shows_the_outcome_and_messages(world, editor):
    fields = page_form(editor, f"/console/rules/{NUDGE}")
    answer = editor.post(f"/console/rules/{NUDGE}", data=as_data([*fields, ("action", "preview"),
                                                            ("preview_customer", ""), ("preview_sample", "sample-berlin")]))
    assert answer.status_code == 200
    assert re.search(r'id="preview-outcome".*would defer to 08:00 their time', answer.text, re.S)
    assert 'id="preview-sms"' in answer.text and 'id="preview-email"' in answer.text


def test_the_backtest_page_draws_messages_per_day_suppressions_and_collisions(world, editor):
    fields = [(n, v) for n, v in page_form(editor, f"/console/rules/{NUDGE}") if n not in ("start", "end")]
    answer = editor.post(f"/console/rules/{NUDGE}", data=as_data([*fields, ("action", "backtest"), ("start", "2026-10-01"),
                                                            ("end", "2026-10-14")]))
    assert answer.status_code == 200
    charts = re.search(r'id="backtest-charts">(.*?)</div>', answer.text, re.S).group(1)
    assert charts.count("<svg") == 3
    assert "messages per day" in charts and "not sent, by reason" in charts and "collisions" in charts
    assert "10-01" in charts and "10-14" in charts  # the whole window on the time axis


def test_the_root_opens_the_console(world):
    answer = client_for(world, "viewer").get("/", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/console/"


def _deep(levels: int) -> dict[str, str]:
    fields, path = {}, "r.when"
    for _ in range(levels):
        fields[f"{path}.type"] = "all"
        path += ".all.0"
    return {**fields, f"{path}.type": "compare"}


@pytest.mark.parametrize(("data", "status"), [
    ({f"r.x{i}": "1" for i in range(1500)}, 400),  # more fields than a form may carry
    (_deep(300), 200),  # nesting is bounded, and said so
    *(({"edit": edit, "r.when.type": "none"}, 200) for edit in (
        "remove:r", "negate:r.id", "unwrap:r", "offer-remove:99999999999999999999", "channel-up:-1", ":", "add:")),
    ({"source": "yaml", "yaml": "x" * 30_000}, 422),
])
def test_hostile_builder_posts_get_an_answer_not_an_error(world, data, status):
    answer = client_for(world, "viewer").post("/console/rule-builder", data=data)
    assert answer.status_code == status
    if status == 200 and "r.when.all.0.type" in data:
        assert any("nest deeper" in e["message"] for e in answer.json()["errors"])
