"""Results measure each decision by the goal of the rule version it was made under, not the newest one."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.outbox.records import OutboxRecord
from retain.console.outcomes import measure
from infra.database import session_scope
from signals.records import GoalEventRecord
from tests.fakes.console_world import NOW, PASSWORD, build_world
from triggers.records import DecisionRecord, RuleVersionRecord

pytestmark = pytest.mark.integration

RULE = "checkout-idle-nudge"
V1_GOAL = {"events": ["order.placed", "checkout.completed"], "within": "2d"}  # as seeded from rules/
V2_GOAL = {"events": ["product.usage"], "within": "2d"}  # the edit: re-engagement instead of conversion


def _add_version_2(session, at: dt.datetime) -> None:
    v1 = session.scalars(select(RuleVersionRecord).where(RuleVersionRecord.rule_id == RULE)).one()
    content = {**v1.content, "version": 2, "goal": V2_GOAL}
    session.add(RuleVersionRecord(rule_id=RULE, content_hash="v2-" + "0" * 61, version=2, content=content,
                                  first_seen_at=at, source=v1.source))


def _exposure(session, n: int, customer: str, outcome: str, at: dt.datetime, goal_event: str) -> None:
    session.add(DecisionRecord(decision_id=f"d-{n}", signal_id=f"s-{n}", signal_kind="checkout_idle",
                               episode_key=f"checkout_idle:{customer}:{n}", customer_id=customer, rule_id=RULE,
                               rule_version=2, topic="marketing", outcome=outcome, reason=outcome, decided_at=at))
    if outcome == "engage":
        session.add(OutboxRecord(message_id=f"m{n:04d}", idempotency_key=f"k-{n}", decision_id=f"d-{n}",
                                 customer_id=customer, rule_id=RULE, episode_key=f"checkout_idle:{customer}:{n}",
                                 channel="email", topic="marketing", state="sent", next_attempt_at=at, created_at=at,
                                 updated_at=at, sent_at=at + dt.timedelta(minutes=1)))
    session.add(GoalEventRecord(event_id=f"goal-{n}", customer_id=customer, type=goal_event,
                                occurred_at=at + dt.timedelta(hours=3)))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("console-results-versions"))
    at = NOW - dt.timedelta(days=1)  # after the seeded version-1 decisions (two days ago)
    with session_scope(world.engine) as session:
        _add_version_2(session, at - dt.timedelta(hours=1))
        _exposure(session, 31, "c-31", "engage", at, "product.usage")  # reaches the v2 goal
        _exposure(session, 32, "c-32", "engage", at, "order.placed")  # reached v1's goal, not v2's
        _exposure(session, 33, "c-33", "holdout", at, "product.usage")  # held out, reaches the v2 goal
        session.commit()
    return world


def test_each_exposure_is_measured_by_its_versions_goal(world):
    # Version 1 (seeded): 4 sent, c-1 and c-4 converted; 1 held out, c-5 converted.
    # Version 2: 2 sent, c-31 used the product; 1 held out, c-33 used the product.
    # By the newest goal only, the version-1 sends would count c-2 (product use) instead of c-1 and c-4.
    with session_scope(world.engine) as session:
        measured, goals = measure(session=session, since=NOW - dt.timedelta(days=30))
    sent = [reached for rule_id, group, reached in measured if rule_id == RULE and group == "sent"]
    held = [reached for rule_id, group, reached in measured if rule_id == RULE and group == "holdout"]
    assert (len(sent), sum(sent), len(held), sum(held)) == (6, 3, 2, 2)
    assert goals[RULE] == [{"version": 2, **V2_GOAL, "sent": 2, "holdout": 1},
                           {"version": 1, **V1_GOAL, "sent": 4, "holdout": 1}]


def test_the_api_and_page_show_every_versions_goal(world):
    client = TestClient(world.app, base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    client.post("/console/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token})
    [row] = client.get("/api/results").json()
    assert (row["sent"], row["sent_outcomes"], row["holdout"], row["holdout_outcomes"]) == (6, 3, 2, 2)
    assert row["goal"] == V2_GOAL and [g["version"] for g in row["goals"]] == [2, 1]
    html = client.get("/console/results").text
    assert "v2: product.usage within 2d" in html and "v1: order.placed or checkout.completed within 2d" in html
