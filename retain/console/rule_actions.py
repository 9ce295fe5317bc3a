"""Console actions on rules: list, view, history with diffs and who, save, enable/disable, backtest.

The rule files under ``settings.rules_dir`` stay the source of truth (the worker hot-reloads them);
these functions read and write them, and record each write with its author in the console audit.
Shared by the JSON API and the pages, so both do exactly the same thing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import select
from sqlmodel import Session

from outreach.outbox.records import RulePauseRecord
from retain.console.rule_editing import rule_yaml, save_rule, text_diff, validate_rule_text, with_version_bump
from retain.console.users import audit, list_audit
from infra.settings import Settings
from triggers.backtest import run_backtest
from triggers.loader import check_rules
from triggers.records import RuleVersionRecord
from triggers.rule import Rule
from triggers.ruleset import RuleSet
from triggers.service import record_rule_versions


class RulesUnavailable(Exception):
    """The rule folder cannot be loaded (its errors are the message)."""


def load(settings: Settings) -> RuleSet:
    """The rules as the files hold them now; RulesUnavailable when they do not load."""
    ruleset, errors = check_rules(settings.rules_dir)
    if ruleset is None:
        raise RulesUnavailable("; ".join(str(e) for e in errors))
    return ruleset


def summary(rule: Rule, ruleset: RuleSet, pauses: dict[str, str]) -> dict[str, Any]:
    """One rule as a list row."""
    return {"id": rule.id, "version": rule.version, "description": rule.description, "enabled": rule.enabled,
            "signals": list(rule.signals), "topic": rule.topic, "priority": rule.priority,
            "channels": list(rule.action.channels), "holdout_pct": rule.holdout_pct,
            "requires_approval": rule.action.requires_approval, "source": ruleset.sources.get(rule.id),
            "paused": pauses.get(rule.id)}


def list_rules(*, session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every rule, with the reputation guard's pause reason where one is paused."""
    ruleset = load(settings)
    pauses = {p.rule_id: p.reason for p in session.scalars(select(RulePauseRecord))}
    return [summary(rule, ruleset, pauses) for rule in ruleset]


def history(*, session: Session, rule_id: str) -> list[dict[str, Any]]:
    """Every stored version of a rule, newest first, each with its diff from the one before and who saved it."""
    versions = list(session.scalars(select(RuleVersionRecord).where(RuleVersionRecord.rule_id == rule_id)
                                    .order_by(RuleVersionRecord.first_seen_at, RuleVersionRecord.version)))
    saves = [a for a in list_audit(session=session, target=f"rule:{rule_id}", limit=500) if a.action == "rule.save"]
    out, previous = [], ""
    for record in versions:
        text = rule_yaml(record.content)
        author = next((a.actor for a in saves if a.detail.get("version") == record.version), None)
        out.append({"version": record.version, "first_seen_at": record.first_seen_at.isoformat(),
                    "source": record.source, "changed_by": author or "file",
                    "diff": text_diff(previous, text, old_name="previous", new_name=f"v{record.version}")})
        previous = text
    return list(reversed(out))


def save(*, session: Session, settings: Settings, actor: str, rule_id: str, text: str,
         now: dt.datetime) -> dict[str, Any]:
    """Validate and save an edited rule: ``{"saved", "errors", "rule", "diff"}``; audited when saved."""
    rule, errors = validate_rule_text(text, expected_id=rule_id)
    if rule is None:
        return {"saved": False, "errors": errors, "rule": None, "diff": ""}
    ruleset = load(settings)
    old = ruleset.get(rule_id)
    new = with_version_bump(rule, old)
    if old is not None and new is old:
        return {"saved": False, "errors": [], "rule": new.canonical(), "diff": "", "unchanged": True}
    change = text_diff(rule_yaml(old) if old else "", rule_yaml(new), old_name=f"v{old.version}" if old else "new",
                       new_name=f"v{new.version}")
    path = save_rule(settings.rules_dir, ruleset, new)
    # Store the version now so its history (and who saved it) shows at once; the worker's reloader
    # stores the same content hash again later, which is a no-op.
    saved = RuleSet.of([r for r in ruleset if r.id != rule_id] + [new], sources={**ruleset.sources, rule_id: str(path)})
    record_rule_versions(session=session, ruleset=saved, now=now)
    audit(session=session, actor=actor, action="rule.save", target=f"rule:{rule_id}", now=now,
          detail={"version": new.version, "old_version": old.version if old else None, "file": str(path),
                  "diff": change})
    return {"saved": True, "errors": [], "rule": new.canonical(), "diff": change}


def set_enabled(*, session: Session, settings: Settings, actor: str, rule_id: str, enabled: bool,
                now: dt.datetime) -> dict[str, Any]:
    """Switch a rule on or off (a new version of it)."""
    old = load(settings).get(rule_id)
    if old is None:
        raise KeyError(rule_id)
    text = rule_yaml({**old.canonical(), "enabled": enabled, "version": old.version + 1})
    return save(session=session, settings=settings, actor=actor, rule_id=rule_id, text=text, now=now)


def _occurred_at(raw: Any) -> dt.datetime | None:
    data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    value = data.get("occurred_at") if isinstance(data, dict) else None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return None


def events_between(raw_events: Iterable[Any], start: dt.datetime, end: dt.datetime) -> Iterator[Any]:
    """The raw events that occurred in [start, end); malformed ones pass through so the backtest counts them."""
    for raw in raw_events:
        try:
            at = _occurred_at(raw)
        except ValueError:
            at = None
        if at is None or start <= at < end:
            yield raw


def backtest(*, settings: Settings, rule_id: str, text: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """What the edited (unsaved) rule would have done over [start, end), beside the other rules in force."""
    rule, errors = validate_rule_text(text, expected_id=rule_id)
    if rule is None:
        return {"errors": errors, "report": None}
    if end <= start:
        return {"errors": [{"line": 0, "field": "window", "message": "the window's end must be after its start"}],
                "report": None}
    path = settings.backtest_events_path
    if path is None or not Path(path).exists():
        return {"errors": [{"line": 0, "field": "history", "message":
                            "no event history configured (set RETAIN_BACKTEST_EVENTS_PATH to a .jsonl or .parquet file)"}],
                "report": None}
    from triggers.backtest_cli import load_scorer, raw_events  # late: LightGBM only when backtesting

    current = load(settings)
    rules = RuleSet.of([r for r in current if r.id != rule_id] + [rule], sources=current.sources)
    scorer, model_line = load_scorer(None, settings)
    report = run_backtest(events_between(raw_events(Path(path), progress=False), start, end), rules, scorer=scorer)
    data = report.to_dict()
    return {"errors": [], "model": model_line, "rule_id": rule_id, "window": [start.isoformat(), end.isoformat()],
            "rule": data["per_rule"].get(rule_id, {}), "report": data}
