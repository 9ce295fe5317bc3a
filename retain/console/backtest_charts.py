"""Charts of one rule's backtest: messages per day, suppressions by reason, collisions with other rules. Pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

from retain.console.charts import bar_chart, line_chart

CHANNELS = ("email", "sms")


def window_days(start: dt.datetime, end: dt.datetime) -> list[str]:
    """Every day in [start, end) as ISO dates (a window ending at midnight leaves that day out)."""
    first, last = start.date(), (end - dt.timedelta(microseconds=1)).date()
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def collisions_of(report: dict[str, Any], rule_id: str) -> dict[str, int]:
    """Superseded pairs (``winner > loser``) the rule took part in, either side."""
    pairs = (report.get("collisions") or {}).get("superseded") or {}
    return {pair: n for pair, n in pairs.items() if rule_id in pair.split(" > ")}


def backtest_charts(result: dict[str, Any], start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """SVG charts of a ``rule_backtest.backtest`` result over its window."""
    rule_id, report = result["rule_id"], result["report"]
    days = window_days(start, end)
    per_day = report.get("per_day") or {}
    series = {ch: [per_day.get(day, {}).get(rule_id, {}).get(ch, 0) for day in days] for ch in CHANNELS}
    return {
        "messages": line_chart(days, series, title=f"{rule_id}: messages per day (engage and deferred, by channel)"),
        "suppressed": bar_chart(result["rule"].get("suppressed") or {}, title="not sent, by reason"),
        "collisions": bar_chart(collisions_of(report, rule_id),
                                title="collisions with other rules (winner > superseded)"),
    }
