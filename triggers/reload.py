"""Hot reload of the rules folder, with every change and every rejection in the audit log.

``RuleReloader.check`` fingerprints the rule files' names and bytes; when that changes it loads
them with the real loader. A bad file is rejected: each problem is logged as
``file:line: field: message``, one ``rejected`` audit row is written, and the previous rules stay
live. A good change is swapped into the ``RuleBook`` atomically, the new rule versions are stored
and one ``applied`` audit row holds who, when and the diff. The files are the source of truth and
arrive through code review and deployment, so a change in them applies as deployed even when the
console would have sent it to a second person: the audit row then names each such rule with its
reasons (``diff["behaviour_changes"]``) and a warning is logged, unless the new content is a
console proposal a second person approved. Pending console proposals live in the database only,
so this reloader can never put one in force. The worker calls ``check`` from a timer (every
``settings.rules_reload_seconds``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, select
from sqlmodel import Session

from infra.database import session_scope
from triggers.loader import check_rules, rule_files
from triggers.records import RuleProposalRecord
from triggers.rule_proposals import APPROVED
from triggers.rule_review import review_change
from triggers.ruleset import RuleBook, RuleSet, RuleSetDiff
from triggers.service import record_rule_audit, record_rule_versions, rule_content_hash

log = logging.getLogger(__name__)


def files_fingerprint(path: Path) -> str:
    """A hash of the rule files' names and contents (a missing folder has its own fingerprint)."""
    digest = hashlib.sha256()
    if not path.exists():
        return "missing"
    for file in rule_files(path):
        digest.update(str(file).encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"(unreadable)")
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def behaviour_changes(old: RuleSet, new: RuleSet) -> dict[str, list[str]]:
    """Per changed rule, what would need a second person in the console (none when ``old`` is empty: a start)."""
    if not len(old):
        return {}
    out = {}
    for rule in new:
        before = old.get(rule.id)
        if before is None or before != rule:
            reasons = review_change(before, rule).reasons
            if reasons:
                out[rule.id] = list(reasons)
    return out


def unapproved(*, session: Session, ruleset: RuleSet, reviews: dict[str, list[str]]) -> dict[str, list[str]]:
    """``reviews`` without the rules whose new content a second person approved in the console."""
    hashes = {rule_content_hash(ruleset.get(rule_id).canonical()): rule_id for rule_id in reviews}
    approved = set(session.scalars(select(RuleProposalRecord.content_hash).where(
        RuleProposalRecord.content_hash.in_(hashes), RuleProposalRecord.state == APPROVED)))
    return {rule_id: reasons for rule_id, reasons in reviews.items()
            if rule_content_hash(ruleset.get(rule_id).canonical()) not in approved}


def _warn_unreviewed(reviews: dict[str, list[str]]) -> None:
    for rule_id, reasons in reviews.items():
        # Files arrive through code review and deployment, not the console's four-eyes: say so loudly.
        log.warning("rule %s changed in the files in a way the console would send for approval (%s); "
                    "applied as deployed", rule_id, "; ".join(reasons))


@dataclass(frozen=True)
class ReloadResult:
    """What one ``check`` did: nothing (unchanged), applied a diff, or rejected with errors."""

    status: str  # unchanged | applied | rejected
    diff: RuleSetDiff | None = None
    errors: tuple[str, ...] = ()


class RuleReloader:
    """Re-reads ``path`` into ``rulebook`` when its files change; audits to ``engine`` when given."""

    def __init__(
        self, rulebook: RuleBook, path: str | Path, *, engine: Engine | None = None, actor: str = "file",
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        self.rulebook = rulebook
        self.path = Path(path)
        self.engine = engine
        self.actor = actor
        self.clock = clock
        self._seen: str | None = None
        # An audit row owed from ``prime`` (which must not touch the database).
        self._pending: tuple[RuleSetDiff | None, tuple[str, ...], RuleSet | None] | None = None

    def prime(self) -> ReloadResult:
        """Load the rules now without writing the audit (written by the next ``check``)."""
        result = self._load(audit=False)
        if result.status != "unchanged":
            ruleset = self.rulebook.current if result.status == "applied" else None
            self._pending = (result.diff, result.errors, ruleset)
        return result

    def check(self) -> ReloadResult:
        """Reload if the files changed since the last check (blocking: file and database I/O)."""
        if self._pending is not None:
            change, errors, ruleset = self._pending
            self._audit(change, errors, ruleset)
            self._pending = None
        return self._load(audit=True)

    def _load(self, *, audit: bool) -> ReloadResult:
        fingerprint = files_fingerprint(self.path)
        if fingerprint == self._seen:
            return ReloadResult("unchanged")
        self._seen = fingerprint
        ruleset, errors = check_rules(self.path)
        if errors or ruleset is None:
            texts = tuple(str(e) for e in errors)
            for text in texts:
                log.warning("rules rejected, previous version stays live: %s", text)
            if audit:
                self._audit(None, texts)
            return ReloadResult("rejected", errors=texts)
        return self.apply(ruleset, audit=audit)

    def apply(self, ruleset: RuleSet, *, audit: bool = True) -> ReloadResult:
        """Put ``ruleset`` in force and audit it when it differs from the current one."""
        if self.rulebook.current.fingerprint == ruleset.fingerprint:
            return ReloadResult("unchanged")
        reviews = behaviour_changes(self.rulebook.current, ruleset)
        change = self.rulebook.replace(ruleset)
        if not audit or self.engine is None:
            _warn_unreviewed(reviews)
        log.info("rules %s -> %s: +%s -%s ~%s", change.old_fingerprint, change.new_fingerprint,
                 list(change.added), list(change.removed), [c.rule_id for c in change.changed])
        for c in change.changed:
            if not c.version_bumped:
                log.warning("rule %s changed without a version bump (still v%s)", c.rule_id, c.new_version)
        if audit:
            self._audit(change, (), ruleset, reviews)
        return ReloadResult("applied", diff=change)

    def _audit(self, change: RuleSetDiff | None, errors: tuple[str, ...], ruleset: RuleSet | None = None,
               reviews: dict[str, list[str]] | None = None) -> None:
        if self.engine is None:
            return
        now = self.clock()
        with session_scope(self.engine) as session:
            if reviews and ruleset is not None:
                reviews = unapproved(session=session, ruleset=ruleset, reviews=reviews)
                _warn_unreviewed(reviews)
            if ruleset is not None:
                record_rule_versions(session=session, ruleset=ruleset, now=now)
            record_rule_audit(session=session, actor=self.actor, now=now, change=change, errors=errors,
                              old_fingerprint=self.rulebook.current.fingerprint, behaviour_changes=reviews)
            session.commit()
