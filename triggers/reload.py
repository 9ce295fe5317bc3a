"""Hot reload of the rules folder, with every change and every rejection in the audit log.

``RuleReloader.check`` fingerprints the rule files' names and bytes; when that changes it loads
them with the real loader. A bad file is rejected: each problem is logged as
``file:line: field: message``, one ``rejected`` audit row is written, and the previous rules stay
live. A good change is swapped into the ``RuleBook`` atomically, the new rule versions are stored
and one ``applied`` audit row holds who, when and the diff. The worker calls ``check`` from a
timer (every ``settings.rules_reload_seconds``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine

from infra.database import session_scope
from triggers.loader import check_rules, rule_files
from triggers.ruleset import RuleBook, RuleSet, RuleSetDiff
from triggers.service import record_rule_audit, record_rule_versions

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
        change = self.rulebook.replace(ruleset)
        log.info("rules %s -> %s: +%s -%s ~%s", change.old_fingerprint, change.new_fingerprint,
                 list(change.added), list(change.removed), [c.rule_id for c in change.changed])
        for c in change.changed:
            if not c.version_bumped:
                log.warning("rule %s changed without a version bump (still v%s)", c.rule_id, c.new_version)
        if audit:
            self._audit(change, (), ruleset)
        return ReloadResult("applied", diff=change)

    def _audit(self, change: RuleSetDiff | None, errors: tuple[str, ...], ruleset: RuleSet | None = None) -> None:
        if self.engine is None:
            return
        now = self.clock()
        with session_scope(self.engine) as session:
            if ruleset is not None:
                record_rule_versions(session=session, ruleset=ruleset, now=now)
            record_rule_audit(session=session, actor=self.actor, now=now, change=change, errors=errors,
                              old_fingerprint=self.rulebook.current.fingerprint)
            session.commit()
