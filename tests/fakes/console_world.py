"""A console test world: migrated SQLite, a copy of the rules, one user per role, seeded rows, event history."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from outreach.outbox.records import DeliveryEventRecord, OutboxRecord
from retain.api import metrics
from retain.api.app import create_app
from retain.console.mount import install_console
from retain.console.users import create_user
from retain.database import make_engine, migrate, session_scope
from retain.settings import Settings
from signals.publisher import InMemoryEventPublisher
from signals.records import CustomerRecord, GoalEventRecord, SignalRecord
from signals.signal import Signal
from triggers.loader import load_rules
from triggers.records import DecisionRecord
from triggers.service import record_rule_versions

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
ROLES = ("viewer", "editor", "approver", "admin")
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
HISTORY_START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)


@dataclass
class ConsoleWorld:
    """Everything a console test needs."""

    app: FastAPI
    engine: Engine
    settings: Settings
    rules_dir: Path


def write_history(path: Path, *, customers: int = 40, days: int = 14) -> Path:
    """A small simulated event history for backtests (the project's own simulator, fixed seed)."""
    from retain.simulator.cli import ArrivalNoise, Simulator
    from retain.simulator.writer import write_events

    sim = Simulator(customers, days, 3, HISTORY_START, noise=ArrivalNoise(0, 0, 0), horizon_days=30)
    write_events(path, sim.run())
    return path


def _decision(i: int, customer: str, rule: str, outcome: str, at: dt.datetime, **extra) -> DecisionRecord:
    signal_id = Signal(kind="checkout_idle", customer_id=customer, episode_key=f"checkout_idle:{customer}:{i}",
                       detected_at=at, reason="idle").signal_id
    return DecisionRecord(decision_id=f"d-{i}", signal_id=signal_id, signal_kind="checkout_idle",
                          episode_key=f"checkout_idle:{customer}:{i}", customer_id=customer, rule_id=rule,
                          rule_version=1, topic="marketing", outcome=outcome, reason=extra.pop("reason", outcome),
                          decided_at=at, **extra)


def _outbox(i: int, customer: str, rule: str, state: str, at: dt.datetime, **extra) -> OutboxRecord:
    return OutboxRecord(message_id=f"m{i:04d}", idempotency_key=f"k-{i}", decision_id=f"d-{i}", customer_id=customer,
                        rule_id=rule, episode_key=f"checkout_idle:{customer}:{i}", channel=extra.pop("channel", "email"),
                        topic="marketing", state=state, next_attempt_at=at, created_at=at, updated_at=at, **extra)


def seed(engine: Engine, rules_dir: Path) -> None:
    """Customers, signals, decisions, outbox rows (sent and awaiting approval), delivery events, rule versions."""
    day = NOW - dt.timedelta(days=2)
    with session_scope(engine) as session:
        record_rule_versions(session=session, ruleset=load_rules(rules_dir), now=NOW - dt.timedelta(days=20))
        for n in range(1, 5):
            customer = f"c-{n}"
            # c-1 and c-2 came back after their message; c-3 and c-4 did not.
            last = day + dt.timedelta(hours=5) if n <= 2 else day - dt.timedelta(days=1)
            session.add(CustomerRecord(customer_id=customer, first_name="Ada", email=f"ada{n}@example.com",
                                       updated_at=day - dt.timedelta(days=10), last_event_at=last))
            signal = Signal(kind="checkout_idle", customer_id=customer, episode_key=f"checkout_idle:{customer}:{n}",
                            detected_at=day, reason="idle", attributes={"cart_value": 42.0})
            session.add(SignalRecord(signal_id=signal.signal_id, kind=signal.kind, customer_id=customer,
                                     episode_key=signal.episode_key, reason=signal.reason, detected_at=day,
                                     attributes=signal.attributes))
            session.add(_decision(n, customer, "checkout-idle-nudge", "engage", day, reason="eligible", channel="email",
                                  risk=0.41, risk_bucket="medium", drivers=[["days_since_order", 0.12]]))
            session.add(_outbox(n, customer, "checkout-idle-nudge", "sent", day, sent_at=day + dt.timedelta(minutes=1),
                                subject="Your cart is saved", body="Hi Ada, your cart is saved."))
        session.add(_decision(9, "c-1", "checkout-idle-nudge", "suppressed", day, reason="cooldown"))
        session.add(CustomerRecord(customer_id="c-5", updated_at=day, last_event_at=day - dt.timedelta(days=1)))
        session.add(_decision(5, "c-5", "checkout-idle-nudge", "holdout", day, reason="holdout"))
        # Goal events (checkout-idle-nudge: order.placed or checkout.completed within 2d). They disagree
        # on purpose with "any event after the decision" (last_event_at): c-1 completes its checkout
        # (both say yes); c-2 only uses the product (old yes, new no); c-3 ordered before the message
        # (both no); c-4 and holdout c-5 order afterwards while last_event_at lags (old no, new yes).
        for n, (customer, type_, at) in enumerate([
            ("c-1", "checkout.completed", day + dt.timedelta(hours=5)), ("c-2", "product.usage", day + dt.timedelta(hours=5)),
            ("c-3", "order.placed", day - dt.timedelta(hours=1)), ("c-4", "order.placed", day + dt.timedelta(days=1)),
            ("c-5", "order.placed", day + dt.timedelta(hours=1)),
        ]):
            session.add(GoalEventRecord(event_id=f"goal-{n}", customer_id=customer, type=type_, occurred_at=at))
        session.add(DeliveryEventRecord(event_key="sg-1", provider="sendgrid", kind="unsubscribe", message_id="m0003",
                                        rule_id="checkout-idle-nudge", customer_id="c-3", occurred_at=day))
        session.add(_decision(7, "c-7", "shipping-delay-goodwill", "engage", day, reason="eligible", channel="email",
                              requires_approval=True, risk=0.8, risk_bucket="high", drivers=[["late_orders", 0.3]]))
        session.add(_outbox(7, "c-7", "shipping-delay-goodwill", "awaiting_approval", day, requires_approval=True,
                            subject="Sorry about the delay", body="Hi, your parcel is late. Here is SORRY10.",
                            decision={"signal_kind": "shipping_delay", "risk": 0.8, "risk_bucket": "high",
                                      "drivers": [["late_orders", 0.3]], "reason": "eligible"},
                            rendered={"guardrails": [{"name": "offers", "passed": True, "detail": ""}]}))
        session.add(_outbox(8, "c-8", "shipping-delay-goodwill", "awaiting_approval", day, requires_approval=True,
                            subject="Sorry", body="Second draft."))
        for role in ROLES:
            create_user(session=session, username=role, role=role, password=PASSWORD, now=NOW)
        session.commit()


def build_world(tmp_path: Path, *, cookie_secure: bool = True, history: bool = False) -> ConsoleWorld:
    """A migrated, seeded database and the API app with the console installed."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules_dir)
    settings = Settings(data_dir=tmp_path / "data", rules_dir=rules_dir, console_cookie_secure=cookie_secure,
                        backtest_events_path=write_history(tmp_path / "history.jsonl") if history else None,
                        database_url=f"sqlite:///{tmp_path}/retain.db")
    engine = make_engine(settings)
    migrate(engine)
    seed(engine, rules_dir)
    app = install_console(create_app(settings, publisher=InMemoryEventPublisher(), engine=engine,
                                     routers=[metrics.router]))
    app.state.counters = lambda: {"events": 781, "deadletter": 2}
    return ConsoleWorld(app=app, engine=engine, settings=settings, rules_dir=rules_dir)
