"""A console test world: migrated SQLite, a copy of the rules, one user per role, seeded rows, event history."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from outreach.drafting.brief import PrivateFacts
from outreach.drafting.compose import Composer
from outreach.outbox.records import DeliveryEventRecord, OutboxRecord
from retain.api.app import create_app
from retain.console.mount import install_console
from retain.console.users import create_user
from infra.database import make_engine, session_scope
from retain.migrations import migrate
from infra.settings import Settings
from signals.publisher import InMemoryEventPublisher
from signals.records import CustomerRecord, GoalEventRecord, SignalRecord
from signals.signal import Signal
from triggers.decision import Decision, DecisionSnapshot
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
    from simulator.cli import ArrivalNoise, Simulator
    from simulator.writer import write_events

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


def drafted(settings: Settings, decision: Decision, rule, customer: dict) -> dict:
    """Outbox fields of a message drafted by the real pipeline (template drafter), as the sender stores them."""
    composer = Composer.from_settings(settings.llm, settings.message_framing, rule_for={rule.id: rule}.get)
    unsubscribe = f"{settings.public_base_url}/u/test-token-{decision.decision_id}"
    private = PrivateFacts(last_name=customer.get("last_name"), email=customer.get("email"), phone=customer.get("phone"))
    message = composer(decision, private=private, unsubscribe_url=unsubscribe)
    return {"subject": message.subject, "body": message.text,
            "rendered": {**message.to_record(), "unsubscribe_url": unsubscribe}, "decision": decision.to_dict()}


def seed_draft(session, settings: Settings, rules_dir: Path, *, n: int, customer: str, rule_id: str,
               at: dt.datetime, attributes: dict, kind: str = "shipping_delay", reason: str = "late",
               channel: str = "email", rule_version: int = 1, **customer_facts) -> None:
    """A customer, signal, decision and drafted outbox row awaiting approval (message ``m{n:04d}``)."""
    rule = load_rules(rules_dir).get(rule_id)
    signal = Signal(kind=kind, customer_id=customer, episode_key=f"{kind}:{customer}:{n}", detected_at=at,
                    reason=reason, attributes=attributes)
    session.add(CustomerRecord(customer_id=customer, updated_at=at, last_event_at=at, **customer_facts))
    session.add(SignalRecord(signal_id=signal.signal_id, kind=kind, customer_id=customer, episode_key=signal.episode_key,
                             reason=reason, detected_at=at, attributes=attributes))
    record = DecisionRecord(decision_id=f"d-{n}", signal_id=signal.signal_id, signal_kind=kind,
                            episode_key=signal.episode_key, customer_id=customer, rule_id=rule_id,
                            rule_version=rule_version, topic=rule.topic, outcome="engage", reason="eligible",
                            channel=channel, requires_approval=True, risk=0.8, risk_bucket="high",
                            drivers=[["late_orders", 0.3]], decided_at=at, idempotency_key=f"k-{n}")
    session.add(record)
    decision = Decision.model_validate(record.model_dump()).model_copy(
        update={"snapshot": DecisionSnapshot.of(signal, customer_facts)})
    fields = drafted(settings, decision, rule, customer_facts)
    session.add(OutboxRecord(message_id=f"m{n:04d}", idempotency_key=f"k-{n}", decision_id=f"d-{n}",
                             customer_id=customer, rule_id=rule_id, episode_key=signal.episode_key, channel=channel,
                             topic=rule.topic, state="awaiting_approval", requires_approval=True, next_attempt_at=at,
                             created_at=at, updated_at=at, **fields))


def seed(engine: Engine, rules_dir: Path, settings: Settings | None = None) -> None:
    """Customers, signals, decisions, outbox rows (sent and awaiting approval), delivery events, rule versions."""
    settings = settings or Settings()
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
        # A goodwill e-mail drafted by the real pipeline, waiting for a human (edits are guardrail-checked).
        seed_draft(session, settings, rules_dir, n=7, customer="c-7", rule_id="shipping-delay-goodwill", at=day,
                   attributes=LATE_PARCEL, first_name="Grace", last_name="Hopper", email="grace@example.com",
                   locale="en", time_zone="Europe/Berlin")
        session.add(_outbox(8, "c-8", "shipping-delay-goodwill", "awaiting_approval", day, requires_approval=True,
                            subject="Sorry", body="Second draft."))
        for role in ROLES:
            create_user(session=session, username=role, role=role, password=PASSWORD, now=NOW)
        session.commit()


LATE_PARCEL = {"order_id": "O-1007", "slip_hours": 96.0, "carrier": "DHL",
               "promised_delivery_by": "2026-11-18T18:00:00+00:00", "estimated_delivery_at": "2026-11-22T18:00:00+00:00"}


def build_world(tmp_path: Path, *, cookie_secure: bool = True, history: bool = False) -> ConsoleWorld:
    """A migrated, seeded database and the API app with the console installed."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules_dir)
    settings = Settings(data_dir=tmp_path / "data", rules_dir=rules_dir, console_cookie_secure=cookie_secure,
                        backtest_events_path=write_history(tmp_path / "history.jsonl") if history else None,
                        database_url=f"sqlite:///{tmp_path}/retain.db")
    engine = make_engine(settings)
    migrate(engine)
    seed(engine, rules_dir, settings)
    app = install_console(create_app(settings, publisher=InMemoryEventPublisher(), engine=engine))
    app.state.counters = lambda: {"events": 781, "deadletter": 2}
    return ConsoleWorld(app=app, engine=engine, settings=settings, rules_dir=rules_dir)


def login_form_token(client) -> str:
    """The single-use CSRF token of a freshly served login form (its cookie is set on ``client``)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)


def client_for(world: ConsoleWorld, username: str, password: str = PASSWORD, **options) -> TestClient:
    """A client logged in as ``username`` that sends its session's CSRF token on every request."""
    client = TestClient(world.app, base_url="https://testserver", **options)
    answer = client.post("/console/login", data={"username": username, "password": password,
                                                  "csrf_token": login_form_token(client)})
    assert answer.status_code in (200, 303), answer.text
    client.headers["X-CSRF-Token"] = client.get("/api/me").json()["csrf_token"]
    return client
