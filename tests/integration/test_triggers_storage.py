"""Decisions stored once with their reasons; contact history comes from stored decisions."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text

from infra.database import make_engine, session_scope
from retain.migrations import migrate
from infra.settings import Settings
from signals.signal import Signal
from triggers.decision_stage import DecisionStage
from triggers.loader import load_rules
from triggers.records import DecisionRecord
from triggers.ruleset import RuleBook
from triggers.service import list_decisions

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
# Monday 15:00 UTC = 10:00 in New York: inside every send window.
DAYTIME = dt.datetime(2026, 1, 12, 15, 0, tzinfo=UTC)
RULES = """
schema_version: 1
rules:
  - id: winback
    version: 1
    signals: [usage_drop]
    topic: marketing
    priority: 10
    cooldown: 7d
    relevance: 3d
    action: {channels: [email], brief: Check in.}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    """A migrated database of each backend, emptied afterwards."""
    if request.param == "sqlite":
        eng = make_engine(Settings(data_dir=tmp_path, database_url=None))
    else:
        eng = make_engine(request.getfixturevalue("postgres_url"))
    migrate(eng)
    yield eng
    with eng.begin() as conn:
        conn.execute(text("DELETE FROM decisions"))
    eng.dispose()


@pytest.fixture
def stage(engine, tmp_path) -> DecisionStage:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "winback.yaml").write_text(RULES)
    return DecisionStage(engine=engine, rulebook=RuleBook(load_rules(tmp_path / "rules")))


def usage_drop(episode: str, *, customer: str = "c1", email: bool = True, detected_at: dt.datetime = DAYTIME) -> Signal:
    return Signal(kind="usage_drop", customer_id=customer, episode_key=episode, detected_at=detected_at,
                  reason="drop", attributes={"drop_pct": 60.0},
                  context={"customer": {"time_zone": "America/New_York", "country": "US", "email_present": email}})


def stored_rows(engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(DecisionRecord))


def test_the_same_signal_decided_twice_is_stored_once(stage, engine):
    signal = usage_drop("usage_drop:c1:w1")
    first = stage.process([signal], DAYTIME)
    # Redelivered an hour later: history now holds the first engage, yet nothing new is stored
    # and the very same decision is handed back for publishing.
    second = stage.process([signal], DAYTIME + dt.timedelta(hours=1))
    assert [d.outcome.value for d in first] == ["engage"]
    assert second == first
    assert stored_rows(engine) == 1


def test_a_stored_engage_keeps_its_snapshot(stage, engine):
    [published] = stage.process([usage_drop("usage_drop:c1:w2")], DAYTIME)
    with session_scope(engine) as session:
        [stored] = list_decisions(session=session, customer_id="c1")
    assert stored.snapshot is not None and stored.snapshot.signal_attributes == {"drop_pct": 60.0}
    assert stored.snapshot.time_zone == "America/New_York" and published == stored


def test_every_outcome_is_stored_with_its_reason(stage, engine):
    stage.process([usage_drop("e-no-mail", customer="c2", email=False)], DAYTIME)
    stage.process([Signal(kind="checkout_idle", customer_id="c3", episode_key="idle:c3", detected_at=DAYTIME,
                          reason="idle")], DAYTIME)
    with session_scope(engine) as session:
        c2 = list_decisions(session=session, customer_id="c2")
        c3 = list_decisions(session=session, customer_id="c3")
    assert [(d.outcome.value, d.reason.value) for d in c2] == [("suppressed", "no_contact_point")]
    assert [(d.outcome.value, d.reason.value, d.rule_id) for d in c3] == [("suppressed", "no_rule_matched", None)]


@pytest.mark.parametrize(
    ("second_after", "expected"),
    [
        (dt.timedelta(days=1), ("suppressed", "cooldown")),  # inside the 7-day cooldown of the stored engage
        (dt.timedelta(days=8), ("engage", "eligible")),  # cooldown over
    ],
)
def test_history_comes_from_stored_decisions(stage, second_after, expected):
    stage.process([usage_drop("usage_drop:c1:w1")], DAYTIME)
    later = DAYTIME + second_after
    stage.process([usage_drop("usage_drop:c1:w2", detected_at=later)], later)
    with session_scope(stage.engine) as session:
        newest = list_decisions(session=session, customer_id="c1")[0]
    assert newest.episode_key == "usage_drop:c1:w2"
    assert (newest.outcome.value, newest.reason.value) == expected


def test_a_batch_sees_its_own_earlier_decisions(stage, engine):
    # Two episodes of one customer in one batch: the second is held back by the first's cooldown.
    published = stage.process([usage_drop("usage_drop:c1:a"), usage_drop("usage_drop:c1:b")], DAYTIME)
    assert [d.episode_key for d in published] == ["usage_drop:c1:a"]
    assert stored_rows(engine) == 2


def test_racing_workers_store_one_decision(stage, engine):
    # Four threads decide the same signal at once (a rebalance redelivering to two workers).
    signal = usage_drop("usage_drop:c1:race")
    barrier = threading.Barrier(4)
    results: list = []

    def work() -> None:
        barrier.wait()
        results.append(stage.process([signal], DAYTIME))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 4
    assert all(r == results[0] for r in results)  # every worker publishes the one stored decision
    assert stored_rows(engine) == 1
