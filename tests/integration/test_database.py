"""Database layer on SQLite and PostgreSQL: migrations match the tables, services are idempotent."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from infra.database import make_engine, normalise_url, session_scope
from retain.migrations import alembic_config, current_revision, downgrade, migrate
from retain.records_registry import include_object, metadata
from infra.settings import Settings
from signals.events import parse_event
from signals.service import (
    get_customer,
    list_signals,
    note_customer_activity,
    record_signal,
    signal_from_record,
    upsert_customer_profile,
)
from signals.signal import Signal

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)


def _schema_differences(engine: Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(context, metadata())


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_migrations_round_trip_and_match_the_tables(engine):
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert current_revision(engine) is None  # a brand-new database

    migrate(engine)
    assert current_revision(engine) == head
    assert _schema_differences(engine) == []

    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert _tables(engine) == set()

    migrate(engine)
    assert _schema_differences(engine) == []
    assert {"customers", "signals"} <= _tables(engine)


def _profile(at: dt.datetime, **props) -> object:
    return parse_event(
        {"event_id": f"p-{at.isoformat()}", "customer_id": "c1", "type": "customer.profile",
         "occurred_at": at.isoformat(), "properties": props}
    )


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # a newer profile overwrites what it carries
        ([(0, {"plan": "basic"}), (1, {"plan": "pro"})], {"plan": "pro", "updated_at": 1}),
        # a late, older profile is ignored
        ([(1, {"plan": "pro"}), (0, {"plan": "basic"})], {"plan": "pro", "updated_at": 1}),
        # fields a newer event leaves out are kept
        ([(0, {"first_name": "Ada", "plan": "basic"}), (1, {"plan": "pro"})], {"first_name": "Ada", "plan": "pro"}),
        # consent: None means unknown and keeps the previous answer; False overwrites
        ([(0, {"consent": {"sms_marketing": True, "email_marketing": True}}),
          (1, {"consent": {"email_marketing": False}})],
         {"sms_marketing_consent": True, "email_marketing_consent": False}),
        # an equal timestamp does not flip the row (first writer wins, replays are no-ops)
        ([(0, {"plan": "basic"}), (0, {"plan": "pro"})], {"plan": "basic", "updated_at": 0}),
    ],
)
def test_upsert_customer_profile_newest_event_wins(migrated, events, expected):
    for hours, props in events:
        with session_scope(migrated) as session:
            upsert_customer_profile(session=session, event=_profile(T0 + dt.timedelta(hours=hours), **props))
            session.commit()
    with session_scope(migrated) as session:
        customer = get_customer(session=session, customer_id="c1")
    for field, value in expected.items():
        if field == "updated_at":
            value = T0 + dt.timedelta(hours=value)
        assert getattr(customer, field) == value, field
    assert customer.updated_at.tzinfo is not None


@pytest.mark.parametrize(
    ("activity_hours", "expected_hours"),
    [
        ([2], 2),  # a later event moves last_event_at forward
        ([2, 1], 2),  # an earlier one arriving late does not move it back
        ([-1], 0),  # older than the profile itself: unchanged
    ],
)
def test_customer_activity_only_moves_forward(migrated, activity_hours, expected_hours):
    with session_scope(migrated) as session:
        assert upsert_customer_profile(session=session, event=_profile(T0, plan="basic")) is True
        for hours in activity_hours:
            note_customer_activity(session=session, customer_id="c1", occurred_at=T0 + dt.timedelta(hours=hours))
        note_customer_activity(session=session, customer_id="unknown", occurred_at=T0)  # ignored, no row
        # a newer profile keeps the activity time when that is later still
        assert upsert_customer_profile(session=session, event=_profile(T0 + dt.timedelta(minutes=1), plan="pro"))
        session.commit()
    with session_scope(migrated) as session:
        customer = get_customer(session=session, customer_id="c1")
        assert get_customer(session=session, customer_id="unknown") is None
    assert customer.last_event_at == T0 + max(dt.timedelta(hours=expected_hours), dt.timedelta(minutes=1))


def _signal(episode: str, *, minutes: int = 0, customer: str = "c1") -> Signal:
    return Signal(kind="checkout_idle", customer_id=customer, episode_key=episode,
                  detected_at=T0 + dt.timedelta(minutes=minutes), reason="idle",
                  attributes={"checkout_id": episode, "cart_value": 12.5})


def test_record_signal_is_idempotent_and_round_trips(migrated):
    signal = _signal("checkout:c1:k1")
    with session_scope(migrated) as session:
        assert record_signal(session=session, signal=signal) is True
        assert record_signal(session=session, signal=signal) is False
        assert record_signal(session=session, signal=_signal("checkout:c2:k2", minutes=5, customer="c2")) is True
        session.commit()
    with session_scope(migrated) as session:
        assert [r.customer_id for r in list_signals(session=session)] == ["c2", "c1"]  # newest first
        (stored,) = list_signals(session=session, customer_id="c1")
    assert signal_from_record(stored) == signal


def _race(n: int, work) -> list:
    """Run ``work(i)`` in ``n`` threads released together; returns their results."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=10)
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_writers_record_a_signal_once_and_keep_the_newest_profile(migrated):
    signal = _signal("usage:c1:w40")

    def record(i: int) -> bool:
        with session_scope(migrated) as session:
            new = record_signal(session=session, signal=signal)
            upsert_customer_profile(session=session, event=_profile(T0 + dt.timedelta(hours=i), plan=f"p{i}"))
            session.commit()
            return new

    results = _race(4, record)
    assert sorted(results) == [False, False, False, True]
    with session_scope(migrated) as session:
        assert len(list_signals(session=session)) == 1
        assert get_customer(session=session, customer_id="c1").plan == "p3"


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u@h/db", "postgresql+psycopg"),  # Heroku-style scheme
        ("postgresql://u@h/db", "postgresql+psycopg"),  # plain scheme defaults to psycopg2 otherwise
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_urls_are_normalised_to_psycopg3(given, driver):
    assert normalise_url(given).drivername == driver


def test_sqlite_engine_creates_its_folder_and_sets_pragmas(tmp_path):
    engine = make_engine(Settings(data_dir=tmp_path / "new" / "dir", database_url=None))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0
    assert (tmp_path / "new" / "dir" / "retain.db").exists()
    engine.dispose()
