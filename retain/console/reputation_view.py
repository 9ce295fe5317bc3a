"""What the console shows of the reputation guard: the paused-rules banner, a rule's evidence, resuming.

The guard's judgement itself is ``outreach.reputation``; this module only reads it for the pages
and lifts a pause on behalf of ops, audited like every other console write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from infra.settings import Settings
from outreach.outbox.records import RulePauseRecord
from outreach.reputation import pause_of, resume_rule, standing
from retain.console.users import audit


def paused_rules(*, session: Session) -> list[dict[str, Any]]:
    """Every paused rule with its reason, oldest pause first (the banner on every page)."""
    pauses = session.scalars(select(RulePauseRecord).order_by(RulePauseRecord.paused_at))
    return [{"rule_id": p.rule_id, "reason": p.reason, "paused_at": p.paused_at.isoformat()} for p in pauses]


def banner_context(engine: Engine | None) -> dict[str, Any]:
    """The layout's ``paused_rules`` (empty without a database)."""
    if engine is None:
        return {"paused_rules": []}
    with Session(engine) as session:
        return {"paused_rules": paused_rules(session=session)}


def guard_view(*, session: Session, settings: Settings, rule_id: str, now: dt.datetime) -> dict[str, Any]:
    """The rule's pause (with the evidence it was paused on) and its evidence over the window now."""
    pause = pause_of(session=session, rule_id=rule_id)
    verdict = standing(session=session, rule_id=rule_id, now=now, reputation=settings.reputation)
    return {
        "window_days": settings.reputation_window_days,
        "now": [e.to_dict() for e in verdict.evidence],
        "pause": None if pause is None else {
            "reason": pause.reason, "paused_at": pause.paused_at.isoformat(), "evidence": list(pause.evidence or []),
            "notified_at": pause.notified_at.isoformat() if pause.notified_at else None},
    }


def resume(*, session: Session, actor: str, rule_id: str, now: dt.datetime) -> bool:
    """Lift the guard's pause of a rule (audited); False when it was not paused."""
    pause = pause_of(session=session, rule_id=rule_id)
    if pause is None:
        return False
    detail = {"reason": pause.reason, "paused_at": pause.paused_at.isoformat()}
    resume_rule(session=session, rule_id=rule_id)
    audit(session=session, actor=actor, action="rule.resume", target=f"rule:{rule_id}", now=now, detail=detail)
    return True
