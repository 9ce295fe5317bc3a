"""`retain uplift-data`: the stored engage/holdout decisions become an uplift table evaluate-uplift reads."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from infra.database import session_scope
from models.uplift_data import read_uplift_table
from retain.cli import app
from signals.records import GoalEventRecord
from tests.fakes.console_world import NOW, build_world
from triggers.records import DecisionRecord

pytestmark = pytest.mark.integration

RULE = "checkout-idle-nudge"  # seeded from rules/: goal order.placed or checkout.completed within 2d


def _decision(session, n, customer, outcome, at):
    session.add(DecisionRecord(decision_id=f"upd-{n}", signal_id=f"ups-{n}", signal_kind="checkout_idle",
                               episode_key=f"checkout_idle:{customer}:upd{n}", customer_id=customer, rule_id=RULE,
                               rule_version=1, topic="marketing", outcome=outcome, reason=outcome, decided_at=at,
                               features={"tenure_days": float(n)}))


def test_stored_decisions_are_written_as_an_uplift_table(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    at = NOW - dt.timedelta(days=5)
    with session_scope(world.engine) as session:
        _decision(session, 1, "upc-1", "engage", at)
        _decision(session, 2, "upc-2", "holdout", at)
        _decision(session, 3, "upc-3", "engage", NOW - dt.timedelta(days=200))  # before --days
        session.add(GoalEventRecord(event_id="upg-1", customer_id="upc-1", type="order.placed",
                                    occurred_at=at + dt.timedelta(hours=3)))
        session.commit()
    world.engine.dispose()
    monkeypatch.setenv("RETAIN_DATA_DIR", str(world.settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", world.settings.effective_database_url)  # the world's database, whichever
    out = tmp_path / "uplift.parquet"
    result = CliRunner().invoke(app, ["uplift-data", "--out", str(out), "--days", "30"])
    assert result.exit_code == 0, result.output
    table, names, _, _ = read_uplift_table(out)
    rows = table[table["customer_id"].str.startswith("upc-")].set_index("customer_id")  # the seeded world's own aside
    assert list(rows.index) == ["upc-1", "upc-2"]
    assert rows["treated"].tolist() == [1, 0] and rows["outcome"].tolist() == [1, 0]
    assert "tenure_days" in names and rows["tenure_days"].tolist() == [1.0, 2.0]


def test_an_unwritable_table_name_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["uplift-data", "--out", str(tmp_path / "uplift.txt")])
    assert result.exit_code == 2 and "--out" in result.output
