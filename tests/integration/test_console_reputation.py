"""The console shows the reputation guard: a banner on every page while a rule is paused, the evidence
on the rule's page (now and at the pause), and a resume button for editors (audited)."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from infra.database import session_scope
from outreach.outbox.records import RulePauseRecord
from outreach.reputation_verdict import Counts, Thresholds, decide
from tests.fakes.console_world import NOW, PASSWORD, build_world

pytestmark = pytest.mark.integration

RULE = "checkout-idle-nudge"


@pytest.fixture
def world(tmp_path):
    return build_world(tmp_path)


def logged_in(world, username: str):
    from fastapi.testclient import TestClient

    client = TestClient(world.app, base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return client


def csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def pause(world) -> None:
    verdict = decide(Counts(email_sends=40, complaints=3), Thresholds())
    with session_scope(world.engine) as session:
        session.add(RulePauseRecord(rule_id=RULE, reason=verdict.reason, sends=40, complaint_rate=3 / 40,
                                    opt_out_rate=0.0, paused_at=NOW, evidence=[e.to_dict() for e in verdict.evidence]))
        session.commit()


def test_no_banner_while_every_rule_sends(world):
    viewer = logged_in(world, "viewer")
    assert 'id="paused-banner"' not in viewer.get("/console/").text
    page = viewer.get(f"/console/rules/{RULE}").text
    assert 'id="reputation"' in page and "sending" in page
    # The seeded history: 4 e-mails, 1 unsubscribe: too few to judge, and said so.
    assert "too few to judge (under 20)" in page


def test_a_paused_rule_shows_a_banner_everywhere_and_its_evidence_on_its_page(world):
    pause(world)
    viewer = logged_in(world, "viewer")
    for path in ("/console/", "/console/messages", "/console/rules/shipping-delay-notice"):
        banner = re.search(r'<div class="flash error" role="alert" id="paused-banner">(.*?)</div>',
                           viewer.get(path).text, re.S)
        assert banner and f'href="/console/rules/{RULE}"' in banner.group(1), path
    page = viewer.get(f"/console/rules/{RULE}").text
    assert "spam complaints: 3 of 40 e-mails (7.50 %), at least 1.11 % with 99 % confidence" in page
    assert "not notified yet" in page
    assert 'id="resume"' not in page  # a viewer may look, not resume
    token = csrf(viewer, f"/console/rules/{RULE}")
    assert viewer.post(f"/console/rules/{RULE}/resume", data={"csrf_token": token}).status_code == 403


def test_an_editor_resumes_a_paused_rule_and_it_is_audited(world):
    pause(world)
    editor = logged_in(world, "editor")
    page = editor.get(f"/console/rules/{RULE}").text
    assert 'id="resume"' in page
    done = editor.post(f"/console/rules/{RULE}/resume", data={"csrf_token": csrf(editor, f"/console/rules/{RULE}")},
                       follow_redirects=False)
    assert done.status_code == 303
    with Session(world.engine) as session:
        assert session.get(RulePauseRecord, RULE) is None
    assert 'id="paused-banner"' not in editor.get("/console/").text
    audit = editor.get("/api/audit", headers={"X-CSRF-Token": editor.get("/api/me").json()["csrf_token"]}).json()
    assert audit[0]["action"] == "rule.resume" and audit[0]["actor"] == "editor"
    assert audit[0]["detail"]["reason"].startswith("spam complaints: 3 of 40 e-mails")
