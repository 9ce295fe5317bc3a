"""Four-eyes on rule behaviour, through the real app, database and rule files: a change that widens what a
rule does stays pending (not in the file, not picked up by the reloader) until a different approver approves
it; narrowing and cosmetic edits apply at once; everything is audited."""

from __future__ import annotations

import pytest

from triggers.reload import RuleReloader
from triggers.loader import load_rules
from triggers.ruleset import RuleBook
from triggers.service import list_rule_audit
from infra.database import session_scope
from tests.fakes.console_world import build_world, client_for

pytestmark = pytest.mark.integration

GOODWILL = "shipping-delay-goodwill"


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path, history=True)


def on_disk(world, rule_id: str) -> dict:
    return load_rules(world.rules_dir).get(rule_id).canonical()


WINDOW = {"start": "2026-10-01T00:00:00Z", "end": "2026-10-15T00:00:00Z"}


def test_turning_approval_off_waits_for_a_second_person(world):
    editor, approver = client_for(world, "editor"), client_for(world, "approver")
    book = RuleBook()
    reloader = RuleReloader(book, world.rules_dir, engine=world.engine)
    reloader.prime()
    text = editor.get(f"/api/rules/{GOODWILL}").json()["yaml"]

    answer = editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("requires_approval: true",
                                                                            "requires_approval: false"), **WINDOW})
    assert answer.status_code == 202, answer.text
    proposal = answer.json()["proposal"]
    assert answer.json()["saved"] is False and proposal["state"] == "pending" and proposal["version"] == 2
    assert any("approval" in reason for reason in proposal["reasons"])
    # Nowhere in force: not in the file, not in the API's view, not in what the worker's reloader loads.
    assert on_disk(world, GOODWILL)["action"]["requires_approval"] is True
    assert {r["id"]: r for r in editor.get("/api/rules").json()}[GOODWILL]["requires_approval"] is True
    assert reloader.check().status == "unchanged"
    assert book.current.get(GOODWILL).action.requires_approval is True

    # The approver sees the diff and the backtest of the pending version beside the request.
    [listed] = approver.get("/api/rule-proposals").json()
    assert listed["proposal_id"] == proposal["proposal_id"] and listed["proposed_by"] == "editor"
    assert "-  requires_approval: true\n+  requires_approval: false" in listed["diff"]
    assert listed["backtest"]["window"] == ["2026-10-01T00:00:00+00:00", "2026-10-15T00:00:00+00:00"]
    assert listed["backtest"]["events"] > 0 and {"current", "proposed"} <= set(listed["backtest"])

    assert editor.post(f"/api/rule-proposals/{proposal['proposal_id']}/approve").status_code == 403
    approved = approver.post(f"/api/rule-proposals/{proposal['proposal_id']}/approve")
    assert approved.status_code == 200, approved.text
    assert on_disk(world, GOODWILL)["action"]["requires_approval"] is False
    assert on_disk(world, GOODWILL)["version"] == 2
    assert reloader.check().status == "applied"
    assert book.current.get(GOODWILL).action.requires_approval is False
    with session_scope(world.engine) as session:  # approved in the console: not flagged as a file-only change
        assert "behaviour_changes" not in list_rule_audit(session=session, limit=1)[0].diff

    history = editor.get(f"/api/rules/{GOODWILL}/history").json()
    assert (history[0]["version"], history[0]["changed_by"], history[0]["approved_by"]) == (2, "editor", "approver")
    audit = [(a["actor"], a["action"]) for a in editor.get("/api/audit").json()]
    assert audit.index(("approver", "rule.approve")) < audit.index(("editor", "rule.propose"))
    assert approver.post(f"/api/rule-proposals/{proposal['proposal_id']}/approve").status_code == 409  # once


def test_the_author_cannot_approve_their_own_change_whatever_their_role(world):
    admin = client_for(world, "admin")
    answer = admin.post("/api/rules/usage-drop-winback/enabled", json={"enabled": False})
    assert answer.status_code == 200  # switching a rule off is immediate: it only narrows
    answer = admin.post("/api/rules/usage-drop-winback/enabled", json={"enabled": True})
    assert answer.status_code == 202
    proposal_id = answer.json()["proposal"]["proposal_id"]
    refused = admin.post(f"/api/rule-proposals/{proposal_id}/approve")
    assert refused.status_code == 403 and "different person" in refused.text
    assert on_disk(world, "usage-drop-winback")["enabled"] is False
    assert client_for(world, "approver").post(f"/api/rule-proposals/{proposal_id}/approve").status_code == 200
    assert on_disk(world, "usage-drop-winback")["enabled"] is True


@pytest.mark.parametrize(("old", "new", "pending"), [
    ("description: High-risk customers", "description: Customers at high risk", False),  # wording only
    ("cooldown: 30d", "cooldown: 45d", False),  # less often
    ("cooldown: 30d", "cooldown: 7d", True),  # more often
    ("channels:\n  - email", "channels:\n  - email\n  - sms", True),  # a new channel
    ("brief: Apologise for the delay", "brief: Apologise warmly for the delay", True),  # a new message
    ("topic: marketing", "topic: service", True),
])
def test_which_edits_wait_for_approval(world, old, new, pending):
    editor = client_for(world, "editor")
    text = editor.get(f"/api/rules/{GOODWILL}").json()["yaml"]
    before = on_disk(world, GOODWILL)
    answer = editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace(old, new)})
    assert answer.status_code == (202 if pending else 200), answer.text
    assert (on_disk(world, GOODWILL) == before) is pending


def test_rejecting_keeps_the_rule_and_a_stale_proposal_cannot_be_approved(world):
    editor, approver = client_for(world, "editor"), client_for(world, "approver")
    text = editor.get(f"/api/rules/{GOODWILL}").json()["yaml"]
    first = editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("cooldown: 30d", "cooldown: 1d")})
    rejected = approver.post(f"/api/rule-proposals/{first.json()['proposal']['proposal_id']}/reject",
                             json={"reason": "far too often"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert on_disk(world, GOODWILL)["cooldown"] == "30d"
    assert approver.get("/api/rule-proposals").json() == []

    second = editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("cooldown: 30d", "cooldown: 20d")})
    proposal_id = second.json()["proposal"]["proposal_id"]
    # Meanwhile someone changes the rule in a way that applies at once: the pending diff no longer says the truth.
    assert editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("description: High-risk",
                                                                           "description: Very high-risk")}).status_code == 200
    assert approver.get("/api/rule-proposals").json()[0]["stale"] is True
    stale = approver.post(f"/api/rule-proposals/{proposal_id}/approve")
    assert stale.status_code == 409 and "changed since" in stale.text
    assert on_disk(world, GOODWILL)["cooldown"] == "30d"
    actions = [a["action"] for a in approver.get("/api/audit").json()]
    assert {"rule.propose", "rule.reject", "rule.save"} <= set(actions)


def test_a_newer_proposal_replaces_the_pending_one(world):
    editor = client_for(world, "editor")
    text = editor.get(f"/api/rules/{GOODWILL}").json()["yaml"]
    first = editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("cooldown: 30d", "cooldown: 1d")}).json()
    second = editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("cooldown: 30d", "cooldown: 2d")}).json()
    [pending] = editor.get("/api/rule-proposals").json()
    assert pending["proposal_id"] == second["proposal"]["proposal_id"] != first["proposal"]["proposal_id"]
    assert editor.get(f"/api/rule-proposals/{first['proposal']['proposal_id']}").json()["state"] == "superseded"


def test_a_behaviour_change_made_in_the_files_is_applied_and_flagged_in_the_audit(world):
    book = RuleBook()
    reloader = RuleReloader(book, world.rules_dir, engine=world.engine, actor="deploy")
    reloader.prime()
    reloader.check()
    path = world.rules_dir / "shipping_delay.yaml"
    path.write_text(path.read_text().replace("requires_approval: true", "requires_approval: false"))
    assert reloader.check().status == "applied"  # files arrive through code review and deployment
    with session_scope(world.engine) as session:
        latest = list_rule_audit(session=session, limit=1)[0]
    assert latest.actor == "deploy"
    assert any("approval" in reason for reason in latest.diff["behaviour_changes"][GOODWILL])
    history = client_for(world, "viewer").get(f"/api/rules/{GOODWILL}/history").json()
    assert history[0]["changed_by"] == "file" and history[0]["approved_by"] is None
    assert any("approval" in reason for reason in history[0]["behaviour_changes"])


def test_only_approvers_reject_the_author_withdraws_and_any_reader_backtests_again(world):
    editor, viewer = client_for(world, "editor"), client_for(world, "viewer")
    text = editor.get(f"/api/rules/{GOODWILL}").json()["yaml"]
    proposal_id = editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("tone: warm, sincere",
                                                                                 "tone: urgent")}).json()["proposal"]["proposal_id"]
    assert viewer.post(f"/api/rule-proposals/{proposal_id}/reject", json={"reason": "no"}).status_code == 403
    assert viewer.post(f"/api/rule-proposals/{proposal_id}/approve").status_code == 403
    again = viewer.post(f"/api/rule-proposals/{proposal_id}/backtest", json=WINDOW).json()
    assert again["window"] == ["2026-10-01T00:00:00+00:00", "2026-10-15T00:00:00+00:00"] and again["events"] > 0
    withdrawn = editor.post(f"/api/rule-proposals/{proposal_id}/reject", json={"reason": "wrong tone after all"})
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "rejected"
    assert editor.get("/api/audit").json()[0]["action"] == "rule.withdraw"
    assert editor.post("/api/rule-proposals/999/approve").status_code == 403  # editors may not approve at all
    assert client_for(world, "approver").post("/api/rule-proposals/999/approve").status_code == 404


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "9999-12-31"), ("nonsense", "9999-99-99"),
                                            ("2026-10-01", "2026-10-14")])
def test_the_proposals_page_backtests_again_over_any_window_without_a_500(world, start, end):
    editor = client_for(world, "editor")
    text = editor.get(f"/api/rules/{GOODWILL}").json()["yaml"]
    editor.put(f"/api/rules/{GOODWILL}", json={"yaml": text.replace("cooldown: 30d", "cooldown: 1d")})
    page = client_for(world, "approver").get("/console/rule-proposals", params={"start": start, "end": end})
    assert page.status_code == 200 and "contacts more often: cooldown 30d -&gt; 1d" in page.text
