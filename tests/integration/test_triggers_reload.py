"""Hot reload: a broken rule file is rejected with file:line:field, the old rules stay, all audited."""

from __future__ import annotations

import logging

import pytest

from infra.database import make_engine, session_scope
from retain.migrations import migrate
from infra.settings import Settings
from triggers.reload import RuleReloader
from triggers.ruleset import RuleBook
from triggers.service import list_rule_audit
from triggers.records import RuleVersionRecord
from sqlmodel import select

pytestmark = pytest.mark.integration

RULE = """schema_version: 1
rules:
  - id: winback
    version: {version}
    signals: [usage_drop]
    topic: marketing
    priority: {priority}
    action: {{channels: [email], brief: Check in.}}
"""


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(Settings(data_dir=tmp_path, database_url=None))
    migrate(eng)
    yield eng
    eng.dispose()


def test_broken_file_is_rejected_and_the_previous_rules_stay_live(tmp_path, engine, caplog):
    folder = tmp_path / "rules"
    folder.mkdir()
    rule_file = folder / "winback.yaml"
    rule_file.write_text(RULE.format(version=1, priority=10))
    book = RuleBook()
    reloader = RuleReloader(book, folder, engine=engine, actor="ops@example")

    assert reloader.prime().status == "applied"  # in force before any database write
    assert reloader.check().status == "unchanged"  # writes the owed audit row, nothing changed
    live = book.current

    # priority must be an integer: line 7 holds it
    rule_file.write_text(RULE.format(version=2, priority="'high'"))
    caplog.set_level(logging.WARNING, logger="triggers.reload")
    rejected = reloader.check()
    assert rejected.status == "rejected"
    assert any(e.startswith(f"{rule_file}:7: rules[0](winback).priority:") for e in rejected.errors)
    assert book.current is live
    assert any(f"{rule_file}:7:" in r.getMessage() for r in caplog.records)
    assert reloader.check().status == "unchanged"  # the same broken bytes are not re-audited

    rule_file.write_text(RULE.format(version=2, priority=20))
    applied = reloader.check()
    assert applied.status == "applied"
    assert book.current.get("winback").priority == 20
    assert [c.rule_id for c in applied.diff.changed] == ["winback"]

    with session_scope(engine) as session:
        audit = list_rule_audit(session=session)
        versions = session.exec(select(RuleVersionRecord)).all()
    assert [(a.action, a.actor) for a in audit] == [("applied", "ops@example"), ("rejected", "ops@example"),
                                                    ("applied", "ops@example")]
    newest, rejected_row, first = audit
    assert newest.diff["changed"][0]["fields"] == ["priority", "version"]
    assert newest.old_fingerprint == first.new_fingerprint == live.fingerprint
    assert rejected_row.errors == list(rejected.errors)
    assert first.diff["added"] == ["winback"]
    assert sorted(v.version for v in versions) == [1, 2]
