"""Building blocks for outreach tests: customers, engaging decisions, a migrated database, composers."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import Engine

from outreach.drafting.brief import PrivateFacts
from outreach.drafting.compose import ComposedMessage
from outreach.outbox.sender import SenderConfig
from infra.database import make_engine, session_scope
from retain.migrations import migrate
from signals.events import parse_event
from signals.service import upsert_customer_profile
from triggers.decision import Decision, DecisionSnapshot, decision_id_for, idempotency_key_for

T0 = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)
CONFIG = SenderConfig(unsubscribe_secret=b"u" * 32, contact_hash_key=b"h" * 32, public_base_url="http://testserver",
                      backoff_base_seconds=10, backoff_cap_seconds=600)


def sqlite_engine(tmp_path) -> Engine:
    """A migrated SQLite database in ``tmp_path``."""
    engine = make_engine(f"sqlite:///{tmp_path}/retain.db")
    migrate(engine)
    return engine


def add_customer(engine: Engine, customer_id: str, *, email: str | None = None, phone: str | None = None,
                 first_name: str = "Ada", **consent: bool) -> None:
    """A customer.profile event applied to the projection (``consent``: sms_marketing=True, ...)."""
    props: dict[str, Any] = {"first_name": first_name, "email": email, "phone": phone, "consent": consent}
    event = parse_event({"event_id": f"profile-{customer_id}", "customer_id": customer_id, "type": "customer.profile",
                         "occurred_at": (T0 - dt.timedelta(days=30)).isoformat(),
                         "properties": {k: v for k, v in props.items() if v is not None}})
    with session_scope(engine) as session:
        upsert_customer_profile(session=session, event=event)
        session.commit()


def decision(customer_id: str, *, channel: str = "email", topic: str = "service", rule_id: str = "late-notice",
             episode: str = "e1", requires_approval: bool = False, expires_at: dt.datetime | None = None,
             at: dt.datetime = T0) -> Decision:
    """An engaging decision as the triggers stage makes it."""
    episode_key = f"shipping_delay:{customer_id}:{episode}"
    signal_id = hashlib.sha256(episode_key.encode()).hexdigest()[:32]
    return Decision(
        decision_id=decision_id_for(signal_id, rule_id), signal_id=signal_id, signal_kind="shipping_delay",
        episode_key=episode_key, customer_id=customer_id, rule_id=rule_id, rule_version=1, topic=topic,
        outcome="engage", reason="eligible", channel=channel, idempotency_key=idempotency_key_for(customer_id, rule_id,
                                                                                                episode_key),
        requires_approval=requires_approval, expires_at=expires_at or at + dt.timedelta(days=2), decided_at=at,
        snapshot=DecisionSnapshot(signal_reason="not_shipped", signal_attributes={"order_id": "o-17"},
                                  first_name="Ada"),
    )


def composed(decision: Decision, subject: str, text: str, *, passed: bool = True) -> ComposedMessage:
    """A message as the drafting pipeline returns it, without the pipeline."""
    return ComposedMessage(channel=decision.channel or "email", topic=decision.topic or "service",
                           rule_id=decision.rule_id or "", language="en", subject=subject, preheader="", text=text,
                           html=None, drafter="fake", passed=passed, guardrails=(), attempts=())


def simple_compose(decision: Decision, *, private: PrivateFacts, unsubscribe_url: str | None,
                   preferences_url: str | None = None) -> ComposedMessage:
    """A fixed message per channel, with the system's unsubscribe link in the e-mail footer."""
    name = (decision.snapshot.first_name if decision.snapshot else None) or "there"
    if decision.channel == "sms":
        return composed(decision, "", f"Hi {name}, your parcel is late. Reply STOP to opt out.")
    return composed(decision, "Your parcel is late", f"Hi {name}, sorry.\n\nUnsubscribe: {unsubscribe_url}")
