"""``retain explain``: why did (or didn't) a customer hear from us, as a timeline.

``build_timeline`` is pure: stored signals and decisions in, one entry per signal (newest
first) with the decisions taken about it, their reasons, the risk and its drivers, and for a
deferred message what its deferral job decided. Decisions whose signal row is missing (the
projection may lag) still appear, under their own signal id. ``render_timeline`` prints it
with rich. Messages (outbox) join the timeline when the outreach stage exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from signals.signal import Signal
from triggers.decision import Decision

_STYLE = {"engage": "green", "defer": "yellow", "holdout": "cyan", "suppressed": "red", "expired": "magenta",
          "superseded": "dim"}


def _decision_entry(d: Decision) -> dict[str, Any]:
    return {
        "decision_id": d.decision_id, "decided_at": d.decided_at.isoformat(), "rule_id": d.rule_id,
        "rule_version": d.rule_version, "outcome": d.outcome.value, "reason": d.reason.value, "detail": d.detail,
        "channel": d.channel, "defer_until": d.defer_until.isoformat() if d.defer_until else None,
        "expires_at": d.expires_at.isoformat() if d.expires_at else None,
        "risk": d.risk, "risk_bucket": d.risk_bucket, "drivers": [list(p) for p in d.drivers], "uplift": d.uplift,
        "requires_approval": d.requires_approval, "released": None,
    }


def build_timeline(signals: Iterable[Signal], decisions: Iterable[Decision]) -> list[dict[str, Any]]:
    """One entry per signal, newest first, each with its decisions (deferral outcomes nested)."""
    decisions = list(decisions)
    releases = {d.deferred_from: d for d in decisions if d.deferred_from}
    entries: dict[str, dict[str, Any]] = {}
    for s in signals:
        entries[s.signal_id] = {"signal_id": s.signal_id, "kind": s.kind, "reason": s.reason,
                                "episode_key": s.episode_key, "detected_at": s.detected_at.isoformat(),
                                "attributes": s.attributes, "decisions": []}
    for d in sorted((d for d in decisions if not d.deferred_from), key=lambda d: (d.decided_at, d.rule_id or "")):
        entry = entries.setdefault(d.signal_id, {
            "signal_id": d.signal_id, "kind": d.signal_kind, "reason": None, "episode_key": d.episode_key,
            "detected_at": None, "attributes": {}, "decisions": []})
        item = _decision_entry(d)
        if d.decision_id in releases:
            item["released"] = _decision_entry(releases[d.decision_id])
        entry["decisions"].append(item)
    # Newest first; a signal without a stored row sorts by its first decision.
    def when(entry: dict[str, Any]) -> str:
        return entry["detected_at"] or (entry["decisions"][0]["decided_at"] if entry["decisions"] else "")

    return sorted(entries.values(), key=when, reverse=True)


def _risk_text(item: dict[str, Any]) -> str:
    if item["risk"] is None:
        return "risk: no score"
    drivers = ", ".join(f"{name} {value:+.2f}" for name, value in item["drivers"]) or "none"
    return f"risk {item['risk']:.2f} ({item['risk_bucket']}); drivers: {drivers}"


def _decision_text(item: dict[str, Any]) -> str:
    style = _STYLE.get(item["outcome"], "")
    rule = f"{item['rule_id']} v{item['rule_version']}" if item["rule_id"] else "no rule"
    text = f"[{style}]{item['outcome']}[/] ({item['reason']}) {rule}"
    if item["channel"]:
        text += f" via {item['channel']}"
    if item["defer_until"]:
        text += f" until {item['defer_until']}"
    if item["detail"]:
        text += f" [dim]- {item['detail']}[/]"
    return text + f"  [dim]{item['decided_at']}[/]"


def render_timeline(customer_id: str, timeline: list[dict[str, Any]], console: Console) -> None:
    """Print the timeline as a rich tree, one branch per signal."""
    if not timeline:
        console.print(f"no signals or decisions stored for customer {customer_id}")
        return
    tree = Tree(f"[bold]customer {customer_id}[/]: {len(timeline)} signal(s), newest first")
    for entry in timeline:
        when = entry["detected_at"] or "(signal not stored)"
        branch = tree.add(f"[bold]{entry['kind']}[/] {entry['reason'] or ''} at {when}  [dim]{entry['episode_key']}[/]")
        if entry["attributes"]:
            table = Table.grid(padding=(0, 2))
            for key, value in sorted(entry["attributes"].items()):
                table.add_row(f"[dim]{key}[/]", str(value))
            branch.add(table)
        if entry["decisions"]:
            branch.add(f"[dim]{_risk_text(entry['decisions'][0])}[/]")
        for item in entry["decisions"]:
            node = branch.add(_decision_text(item))
            if item["released"]:
                node.add("deferral job: " + _decision_text(item["released"]))
    console.print(tree)


def recent_since(now: dt.datetime, days: int) -> dt.datetime:
    """The start of the "recent" window of ``days`` days before ``now``."""
    return now - dt.timedelta(days=days)
