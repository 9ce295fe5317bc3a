"""``retain explain`` against a real database: stored signals and decisions as a timeline."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from typer.testing import CliRunner

from infra.database import make_engine, session_scope
from retain.migrations import migrate
from retain.explain_cli import explain
from infra.settings import Settings
from signals.service import record_signal
from signals.signal import Signal
from triggers.decision_stage import DecisionStage
from triggers.rule import Rule
from triggers.ruleset import RuleBook, RuleSet

pytestmark = pytest.mark.integration

RULE = Rule.model_validate({"id": "winback", "version": 3, "signals": ["usage_drop"], "topic": "marketing",
                            "action": {"channels": ["email"], "brief": "Check in."}})


def test_explain_shows_signals_and_decisions_with_reasons(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAIN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("RETAIN_DATABASE_URL", raising=False)
    engine = make_engine(Settings())
    migrate(engine)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    signal = Signal(kind="usage_drop", customer_id="c9", episode_key="usage_drop:c9:w1", detected_at=now,
                    reason="drop", attributes={"drop_pct": 55},
                    context={"customer": {"time_zone": "UTC", "email_present": False}})
    with session_scope(engine) as session:
        record_signal(session=session, signal=signal)
        session.commit()
    DecisionStage(engine=engine, rulebook=RuleBook(RuleSet.of([RULE]))).process([signal], now)
    engine.dispose()

    app = typer.Typer()
    app.command()(explain)
    as_json = CliRunner().invoke(app, ["c9", "--json"])
    assert as_json.exit_code == 0, as_json.output
    (entry,) = json.loads(as_json.output)["timeline"]
    assert entry["attributes"] == {"drop_pct": 55}
    assert [(d["rule_id"], d["rule_version"], d["outcome"], d["reason"]) for d in entry["decisions"]] == [
        ("winback", 3, "suppressed", "no_contact_point")]

    text = CliRunner().invoke(app, ["c9"])
    assert text.exit_code == 0
    assert "suppressed (no_contact_point) winback v3" in text.output
    assert "nobody" in CliRunner().invoke(app, ["nobody"]).output
