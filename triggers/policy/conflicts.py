"""Conflict resolution: when several rules could speak at once, the highest priority wins."""

from __future__ import annotations

from typing import Iterable

from triggers.rule import Rule


def rank(rules: Iterable[Rule]) -> list[Rule]:
    """Rules in winning order: priority descending, then rule id ascending (a stable tie-break)."""
    return sorted(rules, key=lambda r: (-r.priority, r.id))


def resolve_conflicts(rules: Iterable[Rule]) -> tuple[Rule | None, list[Rule]]:
    """The winning rule (None when there is none) and the superseded others, in rank order."""
    ranked = rank(rules)
    if not ranked:
        return None, []
    return ranked[0], ranked[1:]
