"""Console actions through the JSON API on a real (SQLite) database: rules, approvals, messages, results, metrics."""

from __future__ import annotations

import pytest
import yaml
from pydantic import SecretStr
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from outreach.outbox.records import OutboxRecord
from retain.console.results import GroupCounts, compare
from infra.database import session_scope
from tests.fakes.console_world import build_world, client_for, login_form_token

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path, history=True)


def test_editing_a_rule_saves_its_file_bumps_the_version_and_records_who(world):
    editor = client_for(world, "editor")
    text = editor.get("/api/rules/checkout-idle-nudge").json()["yaml"]
    bad = editor.put("/api/rules/checkout-idle-nudge", json={"yaml": text.replace("priority: 30", "priority: lots")})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "priority"

    # A longer cooldown only narrows the rule: it applies at once (widening edits wait for an approver).
    saved = editor.put("/api/rules/checkout-idle-nudge", json={"yaml": text.replace("cooldown: 7d", "cooldown: 10d")})
    assert saved.status_code == 200 and saved.json()["rule"]["version"] == 2
    on_disk = yaml.safe_load((world.rules_dir / "checkout_idle.yaml").read_text())["rules"][0]
    assert (on_disk["cooldown"], on_disk["version"]) == ("10d", 2)
    history = editor.get("/api/rules/checkout-idle-nudge/history").json()
    assert [(h["version"], h["changed_by"]) for h in history] == [(2, "editor"), (1, "file")]
    assert "-cooldown: 7d\n+cooldown: 10d" in history[0]["diff"]
    audit = editor.get("/api/audit").json()
    assert audit[0]["actor"] == "editor" and audit[0]["action"] == "rule.save"


def test_disabling_a_rule(world):
    editor = client_for(world, "editor")
    assert editor.post("/api/rules/usage-drop-winback/enabled", json={"enabled": False}).status_code == 200
    rules = {r["id"]: r for r in editor.get("/api/rules").json()}
    assert rules["usage-drop-winback"]["enabled"] is False and rules["usage-drop-winback"]["version"] == 2
    assert editor.post("/api/rules/no-such-rule/enabled", json={"enabled": False}).status_code == 404


def test_backtest_of_an_unsaved_edit_changes_nothing_on_disk(world):
    editor = client_for(world, "editor")
    before = (world.rules_dir / "checkout_idle.yaml").read_text()
    text = editor.get("/api/rules/checkout-idle-nudge").json()["yaml"]
    window = {"start": "2026-10-01T00:00:00Z", "end": "2026-10-15T00:00:00Z"}
    loose = editor.post("/api/rules/checkout-idle-nudge/backtest", json={"yaml": text, **window}).json()
    strict = editor.post("/api/rules/checkout-idle-nudge/backtest",
                         json={"yaml": text.replace("value: 20", "value: 100000"), **window}).json()
    assert sum(loose["rule"]["messages"].values()) > 0
    assert strict["rule"].get("messages", {}) == {}  # no cart is worth 100,000: the stricter rule sends nothing
    assert (world.rules_dir / "checkout_idle.yaml").read_text() == before
    empty = editor.post("/api/rules/checkout-idle-nudge/backtest",
                        json={"yaml": text, "start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}).json()
    assert empty["report"]["events"] == 0
    invalid = editor.post("/api/rules/checkout-idle-nudge/backtest", json={"yaml": "id: [", **window})
    assert invalid.status_code == 422


def test_approve_edit_and_reject_drafts(world):
    approver = client_for(world, "approver")
    queue = approver.get("/api/approvals").json()
    assert [d["message_id"] for d in queue] == ["m0007", "m0008"]
    assert queue[0]["drivers"] == [["late_orders", 0.3]]
    assert {g["name"]: g["passed"] for g in queue[0]["guardrails"]}["offers"] is True
    assert queue[0]["text"].startswith("Hi Grace") and "Unsubscribe" not in queue[0]["text"]  # the editable part

    edited = approver.post("/api/approvals/m0007/approve", json={"body": "Hi, sorry: your parcel is late. SORRY10."})
    assert edited.status_code == 200 and edited.json()["edited"] is True
    assert approver.post("/api/approvals/m0007/approve", json={}).status_code == 409  # already decided
    assert approver.post("/api/approvals/m0008/reject", json={"reason": "tone"}).status_code == 200
    assert approver.get("/api/approvals").json() == []
    with session_scope(world.engine) as session:
        approved, rejected = session.get(OutboxRecord, "m0007"), session.get(OutboxRecord, "m0008")
        assert approved.state == "drafted"
        # The edited text, framed by the same system footer (sender, address, unsubscribe link).
        assert approved.body.startswith("Hi, sorry: your parcel is late. SORRY10.\n\n--\nSent by ")
        assert approved.body.endswith(approved.rendered["unsubscribe_url"])
        assert approved.rendered["edited_by"] == "approver"
        assert approved.rendered["original"]["body"].startswith("Hi Grace")
        assert rejected.state == "suppressed" and "tone" in rejected.last_error
    actions = [a["action"] for a in approver.get("/api/audit").json()[:2]]
    assert actions == ["draft.reject", "draft.approve_edited"]


@pytest.mark.parametrize(("query", "expected"), [
    ("", 6),  # everything
    ("?rule=shipping-delay-goodwill", 2),
    ("?status=sent", 4),
    ("?channel=sms", 0),
    ("?rule=checkout-idle-nudge&status=awaiting_approval", 0),
])
def test_messages_filter(world, query, expected):
    assert len(client_for(world, "viewer").get("/api/messages" + query).json()) == expected


def test_customer_timeline(world):
    data = client_for(world, "viewer").get("/api/customers/c-1/timeline").json()
    outcomes = sorted(d["outcome"] for entry in data["timeline"] for d in entry["decisions"])
    assert outcomes == ["engage", "suppressed"]
    assert [m["message_id"] for m in data["messages"]] == ["m0001"]
    assert "ada1@example.com" not in str(data)  # contact details stay out of the console API


def test_results_measure_each_rule_by_its_goal_on_the_constructed_data(world):
    # Seeded: 4 sent, 1 held out. By the rule's goal (order.placed or checkout.completed within 2d)
    # c-1 and c-4 reached it among the sent and c-5 in the holdout; by the old "any later event"
    # outcome it would have been c-1 and c-2, and none held out. 1 opt-out among the sent.
    [row] = client_for(world, "viewer").get("/api/results").json()
    expected = compare(GroupCounts(4, 2), GroupCounts(1, 1))
    assert (row["sent"], row["sent_outcomes"], row["holdout"], row["holdout_outcomes"]) == (4, 2, 1, 1)
    assert (row["difference"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (expected.difference, expected.low, expected.high))
    assert row["difference"] == pytest.approx(-0.5)
    assert row["opt_out_rate"] == pytest.approx(0.25)
    assert row["goal"] == {"events": ["order.placed", "checkout.completed"], "within": "2d"}


def test_results_page_shows_the_goal(world):
    html = client_for(world, "viewer").get("/console/results").text
    assert "order.placed or checkout.completed within 2d" in html


def test_overview_counts(world):
    data = client_for(world, "viewer").get("/api/overview").json()
    # 4 idle checkouts and the late parcel whose goodwill draft awaits approval.
    assert sum(data["series"]["messages sent"]) == 4 and sum(data["series"]["signals"]) == 5
    assert data["suppressions"] == {"cooldown": 1}
    assert (data["opt_out_rate"], data["complaint_rate"], data["deadletter"]) == (0.25, 0.0, 2)


def test_metrics_are_prometheus_text_with_retain_names(world):
    response = TestClient(world.app).get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'retain_sends_total{channel="email",status="sent"} 4' in text
    assert 'retain_decisions_total{outcome="holdout"} 1' in text
    assert "retain_deadletter_total 2" in text
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert all(n.startswith("retain_") for n in names)


def test_metrics_token_when_configured(world):
    world.app.state.settings = world.settings.model_copy(update={"metrics_token": SecretStr("s3cret-token")})
    client = TestClient(world.app)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200


def test_users_cli_creates_a_user_who_can_log_in(world, monkeypatch):
    from retain.console.cli import users_app

    monkeypatch.setenv("DATABASE_URL", world.settings.effective_database_url)
    result = CliRunner().invoke(users_app, ["create", "ops", "--role", "editor"],
                                env={"RETAIN_USER_PASSWORD": "a long password"})
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(users_app, ["create", "ops", "--role", "nobody"],
                               env={"RETAIN_USER_PASSWORD": "a long password"})
    assert again.exit_code != 0
    taken = CliRunner().invoke(users_app, ["create", "ops", "--role", "viewer"],
                               env={"RETAIN_USER_PASSWORD": "a long password"})
    assert taken.exit_code == 2 and "exists" in taken.output
    listed = CliRunner().invoke(users_app, ["list"])
    assert listed.exit_code == 0 and "ops\teditor\tactive" in listed.output
    missing = CliRunner().invoke(users_app, ["token", "nobody"])
    assert missing.exit_code == 2 and "no user" in missing.output
    client = TestClient(world.app, base_url="https://testserver")
    client.post("/console/login", data={"username": "ops", "password": "a long password",
                                         "csrf_token": login_form_token(client)})
    assert client.get("/api/me").json()["role"] == "editor"
