"""Results show the predicted lift beside the measured one; stored decisions become uplift training rows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from infra.database import session_scope
from retain.console.outcomes import uplift_table
from signals.records import GoalEventRecord
from tests.fakes.console_world import NOW, PASSWORD, build_world
from triggers.records import DecisionRecord

pytestmark = pytest.mark.integration

RULE = "checkout-idle-nudge"  # seeded from rules/: goal order.placed or checkout.completed within 2d


def _decision(session, n, customer, outcome, at, uplift=None, features=None):
    session.add(DecisionRecord(decision_id=f"u-{n}", signal_id=f"us-{n}", signal_kind="checkout_idle",
                               episode_key=f"checkout_idle:{customer}:u{n}", customer_id=customer, rule_id=RULE,
                               rule_version=1, topic="marketing", outcome=outcome, reason=outcome, decided_at=at,
                               uplift=uplift, features=features))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("console-results-uplift"))
    at = NOW - dt.timedelta(days=5)
    with session_scope(world.engine) as session:
        _decision(session, 1, "u-1", "engage", at, uplift=4.0, features={"tenure_days": 10.0})
        _decision(session, 2, "u-2", "defer", at, uplift=2.0, features={"tenure_days": 20.0})
        _decision(session, 3, "u-3", "holdout", at, uplift=1.0, features={"tenure_days": 30.0})
        _decision(session, 4, "u-4", "holdout", NOW - dt.timedelta(hours=2), features={"tenure_days": 5.0})  # open
        session.add(GoalEventRecord(event_id="ug-1", customer_id="u-1", type="order.placed",
                                    occurred_at=at + dt.timedelta(hours=5)))
        session.add(GoalEventRecord(event_id="ug-3", customer_id="u-3", type="order.placed",
                                    occurred_at=at + dt.timedelta(days=3)))  # after the 2d window
        session.commit()
    return world


def test_predicted_lift_sits_beside_the_measured_one(world):
    client = TestClient(world.app, base_url="https://testserver")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    client.post("/console/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token})
    [row] = [r for r in client.get("/api/results").json() if r["rule_id"] == RULE]
    assert row["predicted_lift"] == pytest.approx(0.03)  # mean of the sent decisions' 4 and 2 points
    html = client.get("/console/results").text
    assert "predicted lift" in html and "+3.0 pp" in html


def test_stored_decisions_become_uplift_rows_with_the_results_outcome(world):
    with session_scope(world.engine) as session:
        table = uplift_table(session=session, since=NOW - dt.timedelta(days=30), now=NOW,
                             feature_names=["tenure_days"])
    rows = table.set_index("customer_id")
    assert list(rows.index) == ["u-1", "u-2", "u-3"]  # u-4's window is still open
    assert rows["treated"].tolist() == [1, 1, 0]
    assert rows["outcome"].tolist() == [1, 0, 0]
    assert rows["tenure_days"].tolist() == [10.0, 20.0, 30.0]
