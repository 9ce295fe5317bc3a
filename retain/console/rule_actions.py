"""Console actions on rules: list, view, history with diffs and who, save or propose, enable/disable.

The rule files under ``settings.rules_dir`` stay the source of truth (the worker hot-reloads them);
these functions read and write them, and record each write with its author in the console audit.
A change that widens what a rule does (``triggers.rule_review``) is not written: it becomes a
pending proposal with its diff and a backtest beside the rule in force, and waits for a different
approver (``rule_reviews``). Shared by the JSON API and the pages, so both do exactly the same thing.
These functions commit: a rule file is replaced only after the database holds its audit row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session

from infra.settings import Settings
from outreach.outbox.records import RulePauseRecord
from retain.console import rule_backtest
from retain.console.rule_editing import (  # noqa: F401 - load and RulesUnavailable are used through this module
    RulesUnavailable,
    load,
    rule_yaml,
    stage_rule,
    text_diff,
    validate_rule_text,
    with_version_bump,
)
from retain.console.rule_reviews import proposal_view
from retain.console.users import audit, list_audit
from triggers.records import RuleVersionRecord
from triggers.rule import Rule
from triggers.rule_proposals import content_hash, propose
from triggers.rule_review import review_change
from triggers.ruleset import RuleSet
from triggers.service import record_rule_versions


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


def _rule(content: dict[str, Any]) -> Rule | None:
    try:
        return Rule.model_validate(content)
    except ValidationError:
        return None  # an old stored version the schema no longer accepts: shown, not reviewed


def history(*, session: Session, rule_id: str) -> list[dict[str, Any]]:
    """Every stored version of a rule, newest first: its diff, who saved or proposed it, who approved it.

    A version that no console save or approval produced came from the files (deployment); its
    ``behaviour_changes`` say what a console edit would have needed a second person for.
    """
    versions = list(session.scalars(select(RuleVersionRecord).where(RuleVersionRecord.rule_id == rule_id)
                                    .order_by(RuleVersionRecord.first_seen_at, RuleVersionRecord.version)))
    writes = [a for a in list_audit(session=session, target=f"rule:{rule_id}", limit=500)
              if a.action in ("rule.save", "rule.approve")]
    out, previous, previous_rule = [], "", None
    for record in versions:
        text = rule_yaml(record.content)
        write = next((a for a in writes if a.detail.get("content_hash") == record.content_hash), None) or next(
            (a for a in writes if "content_hash" not in a.detail and a.detail.get("version") == record.version), None)
        current = _rule(record.content)
        review = review_change(previous_rule, current) if current is not None and previous_rule is not None else None
        approved = write is not None and write.action == "rule.approve"
        out.append({"version": record.version, "first_seen_at": record.first_seen_at.isoformat(),
                    "source": record.source,
                    "changed_by": (write.detail.get("proposed_by") if approved else write.actor) if write else "file",
                    "approved_by": write.actor if approved else None,
                    "behaviour_changes": list(review.reasons) if review else [],
                    "diff": text_diff(previous, text, old_name="previous", new_name=f"v{record.version}")})
        previous, previous_rule = text, current
    return list(reversed(out))


def save(*, session: Session, settings: Settings, actor: str, rule_id: str, text: str, now: dt.datetime,
         window: tuple[dt.datetime | None, dt.datetime | None] = (None, None)) -> dict[str, Any]:
    """Validate an edited rule, then save it or (if it widens behaviour) propose it; committed and audited.

    Returns ``{"saved", "pending", "errors", "rule", "diff"}`` and, when pending, ``"proposal"``
    (its backtest runs over ``window``, by default the last 30 days).
    """
    rule, errors = validate_rule_text(text, expected_id=rule_id)
    if rule is None:
        return {"saved": False, "pending": False, "errors": errors, "rule": None, "diff": ""}
    ruleset = load(settings)
    old = ruleset.get(rule_id)
    new = with_version_bump(rule, old)
    if old is not None and new is old:
        return {"saved": False, "pending": False, "errors": [], "rule": new.canonical(), "diff": "", "unchanged": True}
    change = text_diff(rule_yaml(old) if old else "", rule_yaml(new), old_name=f"v{old.version}" if old else "new",
                       new_name=f"v{new.version}")
    review = review_change(old, new)
    if review.needed:
        start, end = rule_backtest.window_or_default(*window, now)
        backtest = rule_backtest.compare(settings=settings, ruleset=ruleset, rule=new, start=start, end=end)
        record = propose(session=session, rule=new, base=old, reasons=list(review.reasons), diff=change,
                         author=actor, now=now, backtest=backtest)
        audit(session=session, actor=actor, action="rule.propose", target=f"rule:{rule_id}", now=now,
              detail={"proposal_id": record.id, "version": new.version, "reasons": list(review.reasons),
                      "diff": change})
        session.commit()
        return {"saved": False, "pending": True, "errors": [], "rule": new.canonical(), "diff": change,
                "proposal": proposal_view(record, current=old)}
    staged = stage_rule(settings.rules_dir, ruleset, new)
    try:
        # Store the version now so its history (and who saved it) shows at once; the worker's reloader
        # stores the same content hash again later, which is a no-op.
        saved = RuleSet.of([r for r in ruleset if r.id != rule_id] + [new],
                           sources={**ruleset.sources, rule_id: str(staged.path)})
        record_rule_versions(session=session, ruleset=saved, now=now)
        audit(session=session, actor=actor, action="rule.save", target=f"rule:{rule_id}", now=now,
              detail={"version": new.version, "old_version": old.version if old else None, "file": str(staged.path),
                      "content_hash": content_hash(new), "review": "not needed", "notes": list(review.notes),
                      "diff": change})
        session.commit()
    except BaseException:
        staged.discard()
        raise
    staged.apply()
    return {"saved": True, "pending": False, "errors": [], "rule": new.canonical(), "diff": change}


def set_enabled(*, session: Session, settings: Settings, actor: str, rule_id: str, enabled: bool,
                now: dt.datetime) -> dict[str, Any]:
    """Switch a rule off (at once) or on (a proposal for a second person), as a new version of it."""
    old = load(settings).get(rule_id)
    if old is None:
        raise KeyError(rule_id)
    text = rule_yaml({**old.canonical(), "enabled": enabled, "version": old.version + 1})
    return save(session=session, settings=settings, actor=actor, rule_id=rule_id, text=text, now=now)
