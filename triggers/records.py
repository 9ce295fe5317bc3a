"""Database tables of the trigger stage: decisions, rule versions, rule proposals, and the rule audit log.

``DecisionRecord`` keeps every decision once (primary key ``decision_id``, derived from signal
and rule, so a redelivered signal cannot add a second row). ``RuleVersionRecord`` keeps the
content of every rule version that was ever live; ``RuleAuditRecord`` one row per reload that
changed the rules or was rejected (who, when, the diff or the errors).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from infra.database import UtcDateTime, utcnow


class DecisionRecord(SQLModel, table=True):
    """One decision about one (signal, rule) pair, with why."""

    __tablename__ = "decisions"

    decision_id: str = Field(primary_key=True, sa_type=sa.String(64))
    signal_id: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    signal_kind: str = Field(sa_type=sa.String(32), nullable=False)
    episode_key: str = Field(sa_type=sa.String(512), nullable=False)
    customer_id: str = Field(sa_type=sa.String(128), index=True, nullable=False)
    rule_id: str | None = Field(default=None, sa_type=sa.String(64))
    rule_version: int | None = Field(default=None, sa_type=sa.Integer)
    ruleset_fingerprint: str | None = Field(default=None, sa_type=sa.String(32))
    topic: str | None = Field(default=None, sa_type=sa.String(16))
    outcome: str = Field(sa_type=sa.String(16), nullable=False)
    reason: str = Field(sa_type=sa.String(32), nullable=False)
    detail: str = Field(default="", sa_type=sa.Text, nullable=False)
    channel: str | None = Field(default=None, sa_type=sa.String(8))
    defer_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    expires_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    idempotency_key: str | None = Field(default=None, sa_type=sa.String(64))
    requires_approval: bool = Field(default=False, sa_type=sa.Boolean, nullable=False)
    risk: float | None = Field(default=None, sa_type=sa.Float)
    risk_bucket: str | None = Field(default=None, sa_type=sa.String(16))
    uplift: float | None = Field(default=None, sa_type=sa.Float)  # probability points (migration 0015)
    features: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)  # engage/defer/holdout (migration 0015)
    drivers: list[Any] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    decided_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    deferred_from: str | None = Field(default=None, sa_type=sa.String(64))
    # What drafting reads (triggers.decision.DecisionSnapshot); engage/defer decisions only.
    snapshot: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class RuleVersionRecord(SQLModel, table=True):
    """The content of one rule version as it was live (keyed by rule id and content hash)."""

    __tablename__ = "rule_versions"

    rule_id: str = Field(primary_key=True, sa_type=sa.String(64))
    content_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    version: int = Field(sa_type=sa.Integer, nullable=False)
    source: str | None = Field(default=None, sa_type=sa.String(512))
    content: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    first_seen_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)


class RuleAuditRecord(SQLModel, table=True):
    """One reload of the rules: applied (with the diff) or rejected (with file:line errors)."""

    __tablename__ = "rule_audit"

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.Integer)
    changed_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    actor: str = Field(sa_type=sa.String(128), nullable=False)
    action: str = Field(sa_type=sa.String(16), nullable=False)  # applied | rejected
    old_fingerprint: str | None = Field(default=None, sa_type=sa.String(32))
    new_fingerprint: str | None = Field(default=None, sa_type=sa.String(32))
    diff: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    errors: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)


class RuleProposalRecord(SQLModel, table=True):
    """A rule version that changes behaviour, waiting for a second person (four-eyes), and its fate.

    A pending proposal is in force nowhere: it is not in the rule files and not in ``rule_versions``.
    ``base_hash`` is the content hash of the rule it was written against (None for a new rule), so
    an approval can refuse a proposal whose diff no longer describes the change.
    """

    __tablename__ = "rule_proposals"

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.Integer)
    rule_id: str = Field(sa_type=sa.String(64), index=True, nullable=False)
    version: int = Field(sa_type=sa.Integer, nullable=False)
    content: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    content_hash: str = Field(sa_type=sa.String(64), nullable=False)
    base_hash: str | None = Field(default=None, sa_type=sa.String(64))
    base_version: int | None = Field(default=None, sa_type=sa.Integer)
    reasons: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    diff: str = Field(default="", sa_type=sa.Text, nullable=False)
    backtest: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    state: str = Field(sa_type=sa.String(16), index=True, nullable=False)  # pending|approved|rejected|superseded
    proposed_by: str = Field(sa_type=sa.String(64), nullable=False)
    proposed_at: dt.datetime = Field(sa_type=UtcDateTime, nullable=False)
    decided_by: str | None = Field(default=None, sa_type=sa.String(64))
    decided_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    note: str = Field(default="", sa_type=sa.String(400), nullable=False)
