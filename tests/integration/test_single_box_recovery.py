"""Each thing the memory-only broker forgets, recovered from SQL (real brokers, real worker, SQLite).

* events: the ingest journal keeps order, never reuses a position, and concurrent appends are
  read without gaps (SQLite and PostgreSQL);
* customer states: a checkpoint restored into a fresh broker plus the journal replayed after its
  positions give the worker exactly the states it had, and deadlines still pending;
* signals: a checkpoint never covers a state whose signals were not yet stored and decided;
* engage decisions that never became outbox rows are enqueued, once;
* the consent topic is rebuilt from the consent history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from infra import journal
from infra.broker import EmbeddedBroker, ensure_topics
from infra.database import make_engine, session_scope
from infra.health import Health
from infra.journal_relay import JournalRelay
from infra.kafka_positions import partition_for
from infra.records import JournalRecord, StreamStateRecord
from infra.settings import Settings
from infra.stream_app import CONSENT, EVENTS, SIGNALS, topic_partitions
from infra.stream_checkpoint import StreamCheckpointer, load_positions, restore
from infra.supervisor import Supervisor
from outreach.consent.publisher import KafkaConsentPublisher
from outreach.consent.replay import GatedConsentPublisher
from outreach.consent.service import record_consent
from outreach.outbox import service as outbox
from outreach.outbox.redrive import enqueue_missing
from retain.migrations import migrate
from retain.worker import InProcessWorker, build_worker
from signals.journal_publisher import JournalPublisher
from signals.events import parse_event
from signals.publisher import encode_event
from signals.projection import Projection
from tests.fakes.outages import SqliteWriteLock
from tests.fakes.outreach_world import T0, decision
from tests.topics import read_json_topic
from tests.waiting import wait_for
from triggers.service import record_decisions

pytestmark = pytest.mark.integration

PARTITIONS = 2


def _journal_rows(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(JournalRecord))


# -- events: the journal ------------------------------------------------------------------------

def test_journal_keeps_order_and_never_reuses_a_position(migrated):
    with session_scope(migrated) as session:
        journal.append(session=session, topic="events", records=[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")], now=T0)
        session.commit()
        rows = journal.read_after(session=session, topic="events", after=0, limit=10)
        assert [(key, payload) for _, key, payload in rows] == [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
        assert journal.prune(session=session, topic="events", upto=rows[-1][0]) == 3
        session.commit()
        journal.append(session=session, topic="events", records=[(b"c", b"4")], now=T0)
        session.commit()
        [(seq, _, _)] = journal.read_after(session=session, topic="events", after=0, limit=10)
    assert seq > rows[-1][0]  # the emptied journal did not start over at 1


def test_concurrent_appends_are_read_in_order_without_gaps(migrated):
    writers, per_writer = 4, 40
    seen: list[bytes] = []
    done = threading.Event()

    def write(n: int) -> None:
        for i in range(per_writer):
            for _ in range(10):  # a busy SQLite refuses a writer now and then: ingest answers 503, the client retries
                try:
                    with session_scope(migrated) as session:
                        journal.append(session=session, topic="events", records=[(b"k", f"{n}-{i}".encode())],
                                       now=T0)
                        session.commit()
                    break
                except OperationalError as exc:
                    if "locked" not in str(exc):
                        raise

    def read() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with session_scope(migrated) as session:
                rows = journal.read_after(session=session, topic="events", after=cursor, limit=50)
            seen.extend(payload for _, _, payload in rows)
            cursor = rows[-1][0] if rows else cursor
            if finished and not rows:
                return

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done.set()
    reader.join(timeout=60)
    # A reader that only ever asks "after the last seq I saw" missed nothing and saw nothing twice.
    assert sorted(seen) == sorted(f"{n}-{i}".encode() for n in range(writers) for i in range(per_writer))


# -- customer states: checkpoint, restore, replay -----------------------------------------------

def _events(customers: list[str], at: dt.datetime, tag: str) -> list:
    """Checkout starts as the ingest API hands them to its publisher (encoded records)."""
    return [encode_event(parse_event({"event_id": f"{c}-{tag}", "customer_id": c, "type": "checkout.started",
                         "occurred_at": at.isoformat(), "properties": {"checkout_id": tag, "cart_value": 30}}))
            for c in customers]


class Stage:
    """Relay, worker (signals stage), projection and checkpointer on one broker, like the runtime."""

    def __init__(self, engine, settings: Settings, bootstrap: str) -> None:
        self.engine, self.settings, self.bootstrap = engine, settings, bootstrap
        self.worker = build_worker(settings, broker_url=f"kafka://{bootstrap}", decisions=False)
        self.changelog = self.worker.agents.table.changelog_topic.get_topic_name()
        self.projection = Projection(engine, bootstrap, group_id=f"{settings.app_id}-projection")
        self.relay: JournalRelay | None = None
        self.checkpointer: StreamCheckpointer | None = None
        self.in_process = InProcessWorker(self.worker)
        self.supervisor = Supervisor(Health())
        self.projection_run = None

    async def start(self) -> int:
        await ensure_topics(self.bootstrap, topic_partitions(self.settings))
        positions = load_positions(self.engine, self.changelog, PARTITIONS)
        restored = await restore(self.engine, self.bootstrap, changelog=self.changelog, partitions=PARTITIONS)
        self.relay = JournalRelay(self.engine, self.bootstrap, topic=EVENTS, partitions=PARTITIONS,
                                  start_after=positions)
        # The signals stage alone: its outputs are stored by the projection (no decision stage here).
        self.checkpointer = StreamCheckpointer(
            self.engine, self.bootstrap, changelog=self.changelog, source_topic=EVENTS, partitions=PARTITIONS,
            relay=self.relay, source_groups=[self.settings.app_id, self.projection.group_id],
            outputs={SIGNALS: [self.projection.group_id]}, flush=self.worker.app.producer.flush, interval=3600)
        await self.checkpointer.start()
        await self.relay.start()
        await self.in_process.start()
        self.projection_run = self.supervisor.start("signals.projection", self.projection.run)
        return restored

    def progress(self) -> str:
        """Where each part got, for a failure message: relayed rows and offsets, folded events, read offsets."""
        assert self.relay is not None
        consumer = self.worker.app.consumer
        return (f"relayed {self.relay.relayed} (offsets {self.relay._offsets}), folded "
                f"{self.worker.agents.counters.events} (next offsets {self.worker.agents._next_offset}), "
                f"consumer read offsets {dict(consumer._read_offset)}, committed {dict(consumer._committed_offset)}, "
                f"assigned {sorted(consumer.assignment())}, worker health {self.worker.agents.health.problems()}")

    def states(self) -> dict[bytes, dict]:
        return {key: value for key, value in self.worker.agents.table.data.items()}

    async def checkpoint_all(self, timeout: float = 60.0) -> None:
        """Checkpoint until the positions cover every journal row (the worker commits about once a second)."""
        deadline = time.monotonic() + timeout
        while _journal_rows(self.engine):
            assert time.monotonic() < deadline, f"journal not covered after {timeout}s: {self.checkpointer.positions}"
            await self.checkpointer.checkpoint(wait_outputs=10)
            await asyncio.sleep(0.2)  # the next round, after the next commit

    async def stop(self, *, final: bool = False) -> None:
        """Everything stops; by default as in a kill: no final checkpoint."""
        await self.projection_run.stop()
        await self.in_process.stop()
        assert self.relay is not None and self.checkpointer is not None
        await self.relay.stop()
        await self.checkpointer.stop(final=final)


def _single_box(tmp_path, name: str) -> tuple[Settings, object, JournalPublisher]:
    """Settings (deadlines an hour away), a migrated SQLite engine and the ingest journal publisher."""
    settings = Settings(data_dir=tmp_path, database_url=None, topic_partitions=PARTITIONS,
                        app_id=f"retain-{name}-{uuid.uuid4().hex[:6]}", checkout_idle_seconds=3600,
                        stream_tick_interval_seconds=0.2)
    engine = make_engine(settings)
    migrate(engine)
    return settings, engine, JournalPublisher(engine)


async def test_states_come_back_from_a_checkpoint_plus_the_journal_after_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Faust keeps its app directory in the working directory
    settings, engine, publisher = _single_box(tmp_path, "ckpt")
    customers = [f"c{i}" for i in range(8)]
    now = dt.datetime.now(dt.timezone.utc)

    with EmbeddedBroker(tmp_path / "first") as first:
        stage = Stage(engine, settings, first.bootstrap)
        assert await stage.start() == 0
        publisher.on_append = stage.relay.notify
        try:
            await publisher.publish(_events(customers, now, "k1"))
            await stage.checkpoint_all()  # positions cover the batch: the journal below them is pruned
            with Session(engine) as session:  # ... so every state that includes it is stored
                assert session.scalar(select(func.count()).select_from(StreamStateRecord)) == len(customers)
            # More events after the checkpoint; then the process "dies" before the next one.
            await publisher.publish(_events(customers[:3], now + dt.timedelta(seconds=1), "k2"))
            await wait_for(lambda: stage.worker.agents.counters.events >= len(customers) + 3, 60, "second batch")
            await wait_for(lambda: all(b"k2" in json.dumps(v).encode() for k, v in stage.states().items()
                                       if k.decode() in customers[:3]), 30, "second batch in the states")
            before = stage.states()
        finally:
            await stage.stop()

    with EmbeddedBroker(tmp_path / "second") as second:  # an empty broker, as after any restart
        stage = Stage(engine, settings, second.bootstrap)
        try:
            assert await stage.start() == len(customers)
            await wait_for(lambda: stage.worker.agents.counters.events >= 3, 60,
                           lambda: f"the journal after the checkpoint: {stage.progress()}")
            await wait_for(lambda: stage.states() == before, 30, "the states as before the restart")
            assert stage.relay.relayed == 3  # only what the checkpoint did not cover was replayed
            # Every pending deadline is known again: the tick index was rebuilt from the restored states.
            await wait_for(lambda: len(stage.worker.agents.due) == len(customers), 30, "every deadline indexed")
        finally:
            await stage.stop()
    engine.dispose()


async def test_a_final_checkpoint_refused_by_a_locked_database_fails_quietly_and_the_next_start_replays(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Faust keeps its app directory in the working directory
    settings, engine, publisher = _single_box(tmp_path, "final")
    customers = [f"c{i}" for i in range(4)]
    with EmbeddedBroker(tmp_path / "first") as first:
        stage = Stage(engine, settings, first.bootstrap)
        await stage.start()
        publisher.on_append = stage.relay.notify
        try:
            await publisher.publish(_events(customers, dt.datetime.now(dt.timezone.utc), "k1"))
            await wait_for(lambda: stage.worker.agents.counters.events >= len(customers), 60, "the batch folded")
            before = stage.states()
        finally:
            with SqliteWriteLock(tmp_path / "retain.db"):  # stopping during an outage: the last write is refused
                await stage.stop(final=True)  # logged, never raised
    assert load_positions(engine, stage.changelog, PARTITIONS) == {0: 0, 1: 0}  # nothing half-written
    with EmbeddedBroker(tmp_path / "second") as second:
        stage = Stage(engine, settings, second.bootstrap)
        try:
            assert await stage.start() == 0
            await wait_for(lambda: stage.states() == before, 60, "the states back from the journal replay")
            assert stage.relay.relayed == len(customers)
        finally:
            await stage.stop()
    engine.dispose()


async def test_a_checkpoint_waits_until_the_signals_it_remembers_are_consumed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=None, topic_partitions=PARTITIONS,
                        app_id=f"retain-wait-{uuid.uuid4().hex[:6]}", checkout_idle_seconds=1,
                        stream_tick_interval_seconds=0.2)
    engine = make_engine(settings)
    migrate(engine)
    publisher = JournalPublisher(engine)
    late_group = f"decider-{uuid.uuid4().hex[:6]}"  # stands for a decision stage that has not caught up
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    with EmbeddedBroker(tmp_path / "broker") as broker:
        stage = Stage(engine, settings, broker.bootstrap)
        await stage.start()
        try:
            stage.checkpointer.outputs[SIGNALS].append(late_group)
            publisher.on_append = stage.relay.notify
            await publisher.publish(_events(["c1", "c2"], past, "k1"))  # idle long ago: signals at the next tick
            await wait_for(lambda: stage.worker.agents.counters.signals["checkout_idle"] >= 2, 60, "two signals")
            assert not await stage.checkpointer.checkpoint(wait_outputs=1)  # skipped: not decided yet
            assert load_positions(engine, stage.changelog, PARTITIONS) == {0: 0, 1: 0}

            consumer = AIOKafkaConsumer(SIGNALS, bootstrap_servers=broker.bootstrap, group_id=late_group,
                                        auto_offset_reset="earliest", enable_auto_commit=False)
            await consumer.start()
            try:
                got = 0
                while got < 2:
                    got += sum(len(r) for r in (await consumer.getmany(timeout_ms=500)).values())
                await consumer.commit()
            finally:
                await consumer.stop()
            await stage.checkpoint_all()  # now it goes through
            assert load_positions(engine, stage.changelog, PARTITIONS) == {0: 2, 1: 2}  # everything relayed
        finally:
            await stage.stop()
    engine.dispose()


# -- decisions and consent ------------------------------------------------------------------------

def test_engage_decisions_missing_from_the_outbox_are_enqueued_once(migrated):
    lost, delivered = decision("c1", episode="e1"), decision("c2", episode="e2")
    with Session(migrated) as session:
        record_decisions(session=session, decisions=[lost, delivered])
        outbox.enqueue(session=session, decision=delivered, now=T0)
        session.commit()
        assert enqueue_missing(session=session, now=T0) == 1
        session.commit()
        assert enqueue_missing(session=session, now=T0) == 0  # a second start changes nothing
        rows = outbox.list_messages(session=session)
    assert sorted(row.decision_id for row in rows) == sorted([lost.decision_id, delivered.decision_id])


async def test_the_consent_topic_is_rebuilt_from_the_history(tmp_path, broker):
    engine = make_engine(f"sqlite:///{tmp_path}/retain.db")
    migrate(engine)
    topic = f"{CONSENT}-{uuid.uuid4().hex[:6]}"
    await ensure_topics(broker.bootstrap, {topic: PARTITIONS})
    with Session(engine) as session:
        before = [record_consent(session=session, customer_id=f"c{i}", channel="email", topic="marketing",
                                 status="opted_out", source="one_click_unsubscribe", changed_at=T0) for i in range(3)]
        session.commit()
    gated = GatedConsentPublisher(KafkaConsentPublisher(broker.bootstrap, topic=topic), engine)
    await gated.publish(before[:1])  # the broker is not up yet in the runtime: nothing goes out
    assert await gated.open() == 3
    with Session(engine) as session:
        after = record_consent(session=session, customer_id="c9", channel="sms", topic="*", status="opted_out",
                               source="twilio:STOP", changed_at=T0)
        session.commit()
    await gated.publish([after])
    values = await read_json_topic(broker.bootstrap, topic, PARTITIONS, lambda v: len(v) >= 4)
    await gated.stop()
    assert sorted(v["change_id"] for v in values) == sorted(c.change_id for c in [*before, after])
    engine.dispose()


def test_relay_partitions_like_the_producers_do():
    # The relay and the restore place a key where aiokafka's default partitioner puts it.
    from aiokafka.partitioner import DefaultPartitioner

    for key in (b"c1", b"customer-42", "ü".encode()):
        assert partition_for(key, 4) == DefaultPartitioner()(key, [0, 1, 2, 3], [0, 1, 2, 3])


def test_positions_taken_with_another_partition_count_replay_from_the_lowest(migrated):
    from infra.records import StreamPositionRecord

    with Session(migrated) as session:
        for partition, seq in ((0, 7), (1, 3)):
            session.add(StreamPositionRecord(changelog="cl", partition=partition, partitions=2, journal_seq=seq,
                                             updated_at=T0))
        session.commit()
    assert load_positions(migrated, "cl", 2) == {0: 7, 1: 3}
    assert load_positions(migrated, "cl", 4) == {0: 3, 1: 3, 2: 3, 3: 3}
    assert load_positions(migrated, "other", 2) == {0: 0, 1: 0}
