"""Backtests for the console: an edited rule over a past window, and a proposal beside the rule in force.

Both replay the configured event history (``settings.backtest_events_path``) through the real
detectors, scorer and policy (``triggers.backtest``) with the other rules as they are now.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from infra.settings import Settings
from retain.console.rule_editing import validate_rule_text
from triggers.backtest import run_backtest
from triggers.rule import Rule
from triggers.ruleset import RuleSet

DEFAULT_WINDOW = dt.timedelta(days=30)


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


def _history(settings: Settings) -> Path | None:
    path = settings.backtest_events_path
    return Path(path) if path is not None and Path(path).exists() else None


NO_HISTORY = "no event history configured (set RETAIN_BACKTEST_EVENTS_PATH to a .jsonl or .parquet file)"


def _replay(history: Path, rules: RuleSet, start: dt.datetime, end: dt.datetime, scorer: Any) -> dict[str, Any]:
    from triggers.backtest_cli import raw_events  # late: pyarrow only when backtesting

    return run_backtest(events_between(raw_events(history, progress=False), start, end), rules,
                        scorer=scorer).to_dict()


def _scorer(settings: Settings) -> tuple[Any, str]:
    from triggers.backtest_cli import load_scorer  # late: LightGBM only when backtesting

    return load_scorer(None, settings.serving)


def with_rule(ruleset: RuleSet, rule: Rule) -> RuleSet:
    """``ruleset`` with ``rule`` in place of the rule of the same id (or added)."""
    return RuleSet.of([r for r in ruleset if r.id != rule.id] + [rule], sources=ruleset.sources)


def backtest(*, settings: Settings, ruleset: RuleSet, rule_id: str, text: str, start: dt.datetime,
             end: dt.datetime) -> dict[str, Any]:
    """What the edited (unsaved) rule would have done over [start, end), beside the other rules in force."""
    rule, errors = validate_rule_text(text, expected_id=rule_id)
    if rule is None:
        return {"errors": errors, "report": None}
    if end <= start:
        return {"errors": [{"line": 0, "field": "window", "message": "the window's end must be after its start"}],
                "report": None}
    history = _history(settings)
    if history is None:
        return {"errors": [{"line": 0, "field": "history", "message": NO_HISTORY}], "report": None}
    scorer, model_line = _scorer(settings)
    data = _replay(history, with_rule(ruleset, rule), start, end, scorer)
    return {"errors": [], "model": model_line, "rule_id": rule_id, "window": [start.isoformat(), end.isoformat()],
            "rule": data["per_rule"].get(rule_id, {}), "report": data}


def compare(*, settings: Settings, ruleset: RuleSet, rule: Rule, start: dt.datetime,
            end: dt.datetime) -> dict[str, Any]:
    """The rule in force and the proposed ``rule`` replayed over the same window: ``current`` vs ``proposed``."""
    window = [start.isoformat(), end.isoformat()]
    history = _history(settings)
    if history is None or end <= start:
        return {"window": window, "unavailable": NO_HISTORY if history is None else "the window is empty"}
    scorer, model_line = _scorer(settings)
    current = _replay(history, ruleset, start, end, scorer)
    proposed = _replay(history, with_rule(ruleset, rule), start, end, scorer)
    return {"window": window, "events": proposed["events"], "malformed_events": proposed["malformed_events"],
            "model": model_line, "current": current["per_rule"].get(rule.id, {}),
            "proposed": proposed["per_rule"].get(rule.id, {})}


def window_or_default(start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime
                      ) -> tuple[dt.datetime, dt.datetime]:
    """The backtest window asked for, or the last ``DEFAULT_WINDOW`` up to ``now``."""
    end = end or now
    return start or end - DEFAULT_WINDOW, end
