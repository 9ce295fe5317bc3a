"""Edit-and-approve runs the guardrails on the edited text, through the JSON API and the page.

A failing edit is refused with the failed checks and changes nothing; a passing one is approved
with its guardrail results stored beside the edit; an edit whose context is missing is refused.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from outreach.outbox.records import OutboxRecord
from retain.console.users import list_audit
from infra.database import session_scope
from signals.records import SignalRecord
from tests.fakes.console_world import LATE_PARCEL, NOW, PASSWORD, build_world, seed_draft
from triggers.records import RuleVersionRecord

pytestmark = pytest.mark.integration

SERVICE_SMS = "m0020"  # a late-parcel service notice by SMS (shipping-delay-notice: no offers at all)
GOODWILL = "m0007"  # a goodwill e-mail (shipping-delay-goodwill: SORRY10 allowed)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("console-edits"))
    with session_scope(world.engine) as session:
        seed_draft(session, world.settings, world.rules_dir, n=20, customer="c-20", rule_id="shipping-delay-notice",
                   at=NOW, attributes=LATE_PARCEL, channel="sms", first_name="Lin", last_name="Okafor",
                   phone="+4915112345678", locale="en", time_zone="Europe/Berlin")
        session.commit()
    return world


def client_for(world, username: str = "approver") -> TestClient:
    """A logged-in client that sends its CSRF token with every request."""
    client = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    client.headers["X-CSRF-Token"] = client.get("/api/me").json()["csrf_token"]
    return client


def row(world, message_id: str) -> OutboxRecord:
    with session_scope(world.engine) as session:
        record = session.get(OutboxRecord, message_id)
        session.expunge(record)
        return record


def audited(world, message_id: str) -> list[str]:
    with session_scope(world.engine) as session:
        return [a.action for a in list_audit(session=session, target=f"message:{message_id}")]


FAILING_EDITS = [
    # An invented discount on a service notice: promotional wording and an offer not on the (empty) list.
    (SERVICE_SMS, "Hi Lin, your order O-1007 is late. Enjoy 20% off your next order!", {"offers", "service_tone"}),
    # A link the system did not insert.
    (SERVICE_SMS, "Hi Lin, your order O-1007 is late. Track it at https://evil.example/track", {"links"}),
    # A date the signal does not know (the new delivery date is 22 November).
    (SERVICE_SMS, "Hi Lin, your order O-1007 is late. It should arrive on 30 November 2026.", {"facts"}),
    # Contact details beyond the first name.
    (SERVICE_SMS, "Hi Lin Okafor, your order O-1007 is late. We will text +49 151 12345678.", {"personal_data"}),
    # Too long once the sender and opt-out line are added (2 segments at most).
    (SERVICE_SMS, "Hi Lin, your order O-1007 is late. " + "We are very sorry. " * 16, {"sms_segments"}),
    # The reviewer may not write the system's opt-out line (or a copy of it) into the text.
    (SERVICE_SMS, "Hi Lin, your order O-1007 is late.\nReply STOP to opt out", {"system_parts"}),
    # An e-mail offering more than the rule allows (SORRY10 is 10 %).
    (GOODWILL, "Hi Grace, sorry for the delay of O-1007. Take 25 % off with SAVE25.", {"offers"}),
]


@pytest.mark.parametrize(("message_id", "text", "expected"), FAILING_EDITS)
def test_a_failing_edit_is_refused_through_the_api_and_changes_nothing(world, message_id, text, expected):
    before = row(world, message_id)
    response = client_for(world).post(f"/api/approvals/{message_id}/approve", json={"body": text})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert {c["name"] for c in detail["failed"]} == expected
    assert all(not c["passed"] for c in detail["failed"]) and len(detail["checks"]) > len(detail["failed"])
    after = row(world, message_id)
    assert (after.state, after.body, after.subject) == ("awaiting_approval", before.body, before.subject)
    assert after.rendered == before.rendered and audited(world, message_id) == []


@pytest.mark.parametrize(("message_id", "text", "expected"), FAILING_EDITS[:2])
def test_a_failing_edit_is_refused_on_the_page_with_the_failed_checks(world, message_id, text, expected):
    client = client_for(world)
    csrf = client.headers["X-CSRF-Token"]
    response = client.post(f"/console/approvals/{message_id}", data={"action": "approve", "body": text,
                                                                      "csrf_token": csrf})
    assert response.status_code == 422
    card = response.text.split(f'id="draft-{message_id}"', 1)[1].split("</article>", 1)[0]
    for name in expected:
        assert f'<li class="error">{name}:' in card
    assert "Not approved" in card and text.split("!")[0].split("https")[0] in card  # the reviewer's text is kept
    assert row(world, message_id).state == "awaiting_approval"


def test_an_edit_touching_the_subject_only_is_checked_too(world):
    response = client_for(world).post(f"/api/approvals/{GOODWILL}/approve",
                                      json={"subject": "Free shipping forever at www.deals.shop"})
    assert response.status_code == 422
    failed = {c["name"]: c["detail"] for c in response.json()["detail"]["failed"]}
    assert set(failed) == {"offers", "links"} and "in the subject: " in failed["links"]


def _fresh(tmp_path):
    world = build_world(tmp_path)
    with session_scope(world.engine) as session:
        seed_draft(session, world.settings, world.rules_dir, n=20, customer="c-20", rule_id="shipping-delay-notice",
                   at=NOW, attributes=LATE_PARCEL, channel="sms", first_name="Lin", locale="en")
        session.commit()
    return world


def test_a_passing_edit_is_approved_with_its_guardrail_results(tmp_path):
    world = _fresh(tmp_path)
    text = "Hi Lin, sorry: your order O-1007 is late. It should now arrive on 22 November 2026."
    response = client_for(world).post(f"/api/approvals/{SERVICE_SMS}/approve", json={"body": text})
    assert response.status_code == 200, response.text
    assert response.json()["edited"] is True
    approved = row(world, SERVICE_SMS)
    assert approved.state == "drafted"
    assert approved.body == f"{world.settings.sender_name}: {text}\nReply STOP to opt out"  # system parts kept
    checks = approved.rendered["edit_guardrails"]
    assert all(c["passed"] for c in checks)
    assert {"system_parts", "sms_segments", "offers", "service_tone", "facts", "links"} <= {c["name"] for c in checks}
    assert approved.rendered["original"]["text"].startswith("Hi Lin") and approved.rendered["edited_by"] == "approver"
    assert audited(world, SERVICE_SMS) == ["draft.approve_edited"]


def test_a_passing_email_edit_on_the_page_rebuilds_the_html(tmp_path):
    world = _fresh(tmp_path)
    client = client_for(world)
    text = "Hi Grace, sorry that O-1007 is late.\n\nHere is SORRY10: 10 % off the next order, valid 30 days."
    response = client.post(f"/console/approvals/{GOODWILL}", data={
        "action": "approve", "subject": "Sorry about O-1007", "body": text.replace("\n", "\r\n"),  # as browsers send
        "csrf_token": client.headers["X-CSRF-Token"]})
    assert response.status_code == 303 and "Approved" in response.headers["location"]
    approved = row(world, GOODWILL)
    assert (approved.state, approved.subject) == ("drafted", "Sorry about O-1007")
    assert approved.body.startswith(text + "\n\n--\n")
    assert "Here is SORRY10" in approved.rendered["html"] and "running later" not in approved.rendered["html"]
    assert approved.rendered["unsubscribe_url"] in approved.rendered["html"]


def test_sending_back_the_whole_message_unchanged_is_a_plain_approval(tmp_path):
    world = _fresh(tmp_path)
    before = row(world, SERVICE_SMS)
    response = client_for(world).post(f"/api/approvals/{SERVICE_SMS}/approve",
                                      json={"body": before.body.replace("\n", "\r\n")})
    assert response.status_code == 200 and response.json()["edited"] is False
    assert row(world, SERVICE_SMS).body == before.body
    assert audited(world, SERVICE_SMS) == ["draft.approve"]


def _forget_snapshot(session, message_id: str) -> None:
    """The outbox row as one drafted before decisions carried their snapshot."""
    record = session.get(OutboxRecord, message_id)
    record.decision = {**record.decision, "snapshot": None}


@pytest.mark.parametrize(("remove", "says"), [
    ("rule_versions", "is not stored, so the allowed offers are unknown"),  # the rule version decided under
    ("signal", "is not stored, so the facts cannot be checked"),  # an older decision without a snapshot
])
def test_an_edit_whose_context_is_missing_is_refused(tmp_path, remove, says):
    world = _fresh(tmp_path)
    with session_scope(world.engine) as session:
        if remove == "rule_versions":
            session.execute(delete(RuleVersionRecord))
        else:
            session.execute(delete(SignalRecord).where(SignalRecord.customer_id == "c-20"))
            _forget_snapshot(session, SERVICE_SMS)
        session.commit()
    response = client_for(world).post(f"/api/approvals/{SERVICE_SMS}/approve",
                                      json={"body": "Hi Lin, your order O-1007 is late."})
    assert response.status_code == 422 and says in response.json()["detail"]["message"]
    assert row(world, SERVICE_SMS).state == "awaiting_approval"
    # Approving the checked draft as it is still works.
    assert client_for(world).post(f"/api/approvals/{SERVICE_SMS}/approve", json={}).status_code == 200


def test_an_edit_is_checked_against_the_decisions_snapshot_without_the_signal_row(tmp_path):
    world = _fresh(tmp_path)
    with session_scope(world.engine) as session:
        session.execute(delete(SignalRecord).where(SignalRecord.customer_id == "c-20"))
        session.commit()
    wrong_date = client_for(world).post(f"/api/approvals/{SERVICE_SMS}/approve",
                                        json={"body": "Hi Lin, your order O-1007 arrives on 30 November 2026."})
    assert wrong_date.status_code == 422 and "facts" in {c["name"] for c in wrong_date.json()["detail"]["failed"]}
    fine = client_for(world).post(f"/api/approvals/{SERVICE_SMS}/approve",
                                  json={"body": "Hi Lin, your order O-1007 is late."})
    assert fine.status_code == 200 and fine.json()["edited"] is True


def test_a_draft_without_its_drafted_text_can_be_approved_but_not_edited(tmp_path):
    world = _fresh(tmp_path)  # m0008 was stored without the drafting record
    client = client_for(world)
    refused = client.post("/api/approvals/m0008/approve", json={"body": "Something else."})
    assert refused.status_code == 422 and "lacks the drafted text" in refused.json()["detail"]["message"]
    assert client.post("/api/approvals/m0008/approve", json={"body": "Second draft."}).status_code == 200
