"""Rule sets as values: fingerprints, diffs for the audit log, and the atomic RuleBook."""

from __future__ import annotations

import threading

import pytest

from triggers.loader import load_rules
from triggers.ruleset import RuleBook, RuleSet, diff


def test_fingerprint_ignores_order_sources_and_duration_spelling(make_rule):
    a = RuleSet.of([make_rule(id="a", cooldown="72h"), make_rule(id="b")], sources={"a": "x.yaml"})
    b = RuleSet.of([make_rule(id="b"), make_rule(id="a", cooldown="3d")], sources={"a": "y.yaml"})
    assert a.fingerprint == b.fingerprint
    assert a == b


@pytest.mark.parametrize(
    "change",
    [
        {"priority": 11},  # any field change moves the fingerprint
        {"enabled": False},
        {"when": {"field": "signal.drop_pct", "op": ">=", "value": 40}},
        {"action": {"channels": ["sms"], "brief": "Check in."}},
    ],
)
def test_fingerprint_changes_with_content(make_rule, change):
    assert RuleSet.of([make_rule()]).fingerprint != RuleSet.of([make_rule(**change)]).fingerprint


def test_duplicate_ids_are_refused(make_rule):
    with pytest.raises(ValueError, match="duplicate"):
        RuleSet.of([make_rule(id="a"), make_rule(id="a")])


def test_diff_lists_added_removed_and_changed_fields(make_rule):
    old = RuleSet.of([make_rule(id="kept"), make_rule(id="edited"), make_rule(id="gone")])
    new = RuleSet.of([
        make_rule(id="kept"),
        make_rule(id="edited", version=2, priority=99, holdout_pct=10),
        make_rule(id="fresh"),
    ])
    change = diff(old, new)
    assert change.added == ("fresh",)
    assert change.removed == ("gone",)
    assert len(change.changed) == 1
    edited = change.changed[0]
    assert (edited.rule_id, edited.old_version, edited.new_version) == ("edited", 1, 2)
    assert edited.fields == ("holdout_pct", "priority", "version")
    assert edited.version_bumped
    assert change.to_dict()["changed"][0]["fields"] == ["holdout_pct", "priority", "version"]
    assert (change.old_fingerprint, change.new_fingerprint) == (old.fingerprint, new.fingerprint)


def test_diff_flags_content_changed_without_version_bump(make_rule):
    change = diff(RuleSet.of([make_rule()]), RuleSet.of([make_rule(priority=50)]))
    assert change.changed[0].fields == ("priority",)
    assert change.changed[0].version_bumped is False


def test_diff_of_equal_sets_is_empty(make_rule):
    assert diff(RuleSet.of([make_rule()]), RuleSet.of([make_rule()])).is_empty


def test_rulebook_swaps_on_success_and_reports_the_diff(make_rule):
    book = RuleBook(RuleSet.of([make_rule(id="a")]))
    outcome = book.reload(lambda: RuleSet.of([make_rule(id="a"), make_rule(id="b")]))
    assert outcome.applied and outcome.diff.added == ("b",)
    assert [r.id for r in book.current] == ["a", "b"]


def test_rulebook_keeps_the_previous_rules_when_a_load_fails(tmp_path, make_rule):
    (tmp_path / "bad.yaml").write_text("rules:\n  - id: x\n", encoding="utf-8")
    before = RuleSet.of([make_rule(id="a")])
    book = RuleBook(before)
    outcome = book.reload(lambda: load_rules(tmp_path))
    assert not outcome.applied
    assert "bad.yaml:2" in str(outcome.error)
    assert book.current is before


def test_rulebook_readers_always_see_a_whole_rule_set(make_rule):
    small = RuleSet.of([make_rule(id="a")])
    large = RuleSet.of([make_rule(id=f"r{i}") for i in range(20)])
    book = RuleBook(small)
    seen: set[str] = set()
    torn: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            current = book.current
            if len(current) not in (1, 20):
                torn.append(len(current))
            seen.add(current.fingerprint)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(200):
        book.replace(large if i % 2 == 0 else small)
    stop.set()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert not torn
    assert seen <= {small.fingerprint, large.fingerprint}


def test_a_new_rulebook_is_empty():
    assert len(RuleBook().current) == 0
