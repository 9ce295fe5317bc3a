"""Rule sets as values: a content fingerprint, a diff for the audit log, and an atomic holder.

Hot reload stays pure: the caller loads a new ``RuleSet`` (``triggers.loader.load_rules``) and
hands the outcome to ``RuleBook.replace``; a failed load keeps the previous rules in force.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from triggers.rule import Rule


@dataclass(frozen=True)
class RuleSet:
    """An immutable set of rules, sorted by id, with a fingerprint of their content."""

    rules: tuple[Rule, ...]
    fingerprint: str
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, rules: Iterable[Rule], sources: Mapping[str, str] | None = None) -> "RuleSet":
        """Build a rule set; the fingerprint ignores file names and ordering."""
        ordered = tuple(sorted(rules, key=lambda r: r.id))
        ids = [r.id for r in ordered]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate rule ids")
        payload = json.dumps([r.canonical() for r in ordered], sort_keys=True, separators=(",", ":"))
        fingerprint = hashlib.sha256(payload.encode()).hexdigest()[:16]
        return cls(rules=ordered, fingerprint=fingerprint, sources=dict(sources or {}))

    @classmethod
    def empty(cls) -> "RuleSet":
        """The rule set with no rules (what a fresh ``RuleBook`` holds)."""
        return cls.of([])

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, or None."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


@dataclass(frozen=True)
class RuleChange:
    """One rule present in both sets with different content."""

    rule_id: str
    old_version: int
    new_version: int
    fields: tuple[str, ...]

    @property
    def version_bumped(self) -> bool:
        """False when content changed but the author forgot to raise ``version``."""
        return self.new_version > self.old_version


@dataclass(frozen=True)
class RuleSetDiff:
    """What changed between two rule sets, for the audit log."""

    old_fingerprint: str
    new_fingerprint: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[RuleChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when both sets hold the same rules."""
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the audit log."""
        return {
            "old_fingerprint": self.old_fingerprint,
            "new_fingerprint": self.new_fingerprint,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [
                {"rule_id": c.rule_id, "old_version": c.old_version, "new_version": c.new_version,
                 "fields": list(c.fields), "version_bumped": c.version_bumped}
                for c in self.changed
            ],
        }


def diff(old: RuleSet, new: RuleSet) -> RuleSetDiff:
    """Rules added, removed and changed (with the top-level fields that differ) from old to new."""
    old_by_id = {r.id: r for r in old.rules}
    new_by_id = {r.id: r for r in new.rules}
    changed = []
    for rule_id in sorted(old_by_id.keys() & new_by_id.keys()):
        before, after = old_by_id[rule_id].canonical(), new_by_id[rule_id].canonical()
        fields = tuple(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))
        if fields:
            changed.append(RuleChange(rule_id, before["version"], after["version"], fields))
    return RuleSetDiff(
        old_fingerprint=old.fingerprint,
        new_fingerprint=new.fingerprint,
        added=tuple(sorted(new_by_id.keys() - old_by_id.keys())),
        removed=tuple(sorted(old_by_id.keys() - new_by_id.keys())),
        changed=tuple(changed),
    )


@dataclass(frozen=True)
class ReloadOutcome:
    """Result of ``RuleBook.reload``: the diff when the new rules took effect, else the error."""

    applied: bool
    diff: RuleSetDiff | None = None
    error: Exception | None = None


class RuleBook:
    """Holds the rules in force; swaps them atomically and keeps them when a reload fails."""

    def __init__(self, initial: RuleSet | None = None):
        self._current = initial or RuleSet.empty()
        self._lock = threading.Lock()

    @property
    def current(self) -> RuleSet:
        """The rule set in force (a single reference read, so readers never see a half swap)."""
        return self._current

    def replace(self, new: RuleSet) -> RuleSetDiff:
        """Put ``new`` in force and return what changed."""
        with self._lock:
            change = diff(self._current, new)
            self._current = new
            return change

    def reload(self, load: Callable[[], RuleSet]) -> ReloadOutcome:
        """Call ``load``; on success swap in its rules, on any exception keep the current ones."""
        try:
            new = load()
        except Exception as exc:  # noqa: BLE001 - any failed load must leave the old rules in force
            return ReloadOutcome(applied=False, error=exc)
        return ReloadOutcome(applied=True, diff=self.replace(new))
