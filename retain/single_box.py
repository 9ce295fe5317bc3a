"""The single-box mode's durable record: what the memory-only broker forgets, kept in SQL.

With no KAFKA_URL the service runs the embedded Tansu broker, which keeps nothing across a
restart. ``SingleBox`` wires the parts that make the SQL database the durable record instead:

* ingest writes events to the journal (``JournalPublisher``); the 202 follows the commit;
* at start, before the worker runs: the last checkpoint of the ``customer_state`` changelog is
  written back into the empty broker, the journal after its positions is relayed again, and
  stored engage decisions without an outbox row are enqueued (``redrive``);
* while running: the relay produces new journal rows to ``events``, the checkpointer saves the
  changed states with the journal position they include (and prunes the journal below it). A
  checkpoint only covers states whose signals the projection stored AND the decision stage
  decided (their consumer groups committed past them), so a signal lost with the broker is
  emitted again by the replay, with its full context, and decided then;
* once the consumers run: the ``consent`` topic is rebuilt from the consent history
  (``GatedConsentPublisher.open``).

Events, stream state, signals, decisions and consent are thereby all recoverable after a stop
or a kill -9; docs/streaming.md states the guarantees.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import Engine

from infra.backoff import until_the_infrastructure_answers
from infra.database import session_scope
from infra.health import Health
from infra.journal_relay import JournalRelay
from infra.settings import Settings
from infra.stream_app import EVENTS, SIGNALS
from infra.stream_checkpoint import StreamCheckpointer, load_positions, restore
from outreach.outbox.redrive import enqueue_missing
from signals.journal_publisher import JournalPublisher

log = logging.getLogger(__name__)


def mode_description(settings: Settings) -> str:
    """One line for ``retain up``: which mode runs and what it keeps across a restart."""
    database = "PostgreSQL" if settings.database_url else f"SQLite {settings.sqlite_path}"
    if settings.uses_embedded_broker:
        return (f"single-box mode (embedded broker, memory only; {database} is the durable record): "
                "keeps every acknowledged event (ingest journal), every customer's stream state "
                f"(checkpoint every {settings.checkpoint_interval_seconds:g} s + journal replay), signals, decisions, "
                "outbox and consent across restarts and kill -9")
    return (f"external Kafka mode ({settings.kafka_url}; {database}): Kafka keeps events and stream state, "
            "the database keeps signals, decisions, outbox and consent")


@dataclass
class SingleBox:
    """Journal, relay, checkpoints and re-drives of one runtime (single-box mode only)."""

    engine: Engine
    settings: Settings
    health: Health
    publisher: JournalPublisher = field(init=False)
    relay: JournalRelay | None = None
    checkpointer: StreamCheckpointer | None = None
    restored: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.publisher = JournalPublisher(self.engine, timeout=self.settings.publish_timeout_seconds,
                                          max_record_bytes=self.settings.ingest_max_event_bytes)

    async def recover(self, bootstrap: str, worker: Any, *, projection_group: str,
                      on_wait: Callable[[str], None] | None = None) -> None:
        """Before the worker starts: restore the stream state, start relay and checkpoints, re-drive.

        A restart during a database outage waits here (``on_wait`` says why) instead of exiting:
        reading positions, restoring states (re-producing the same states is harmless) and the
        re-drive (unique outbox keys) are each safe to run again.
        """
        partitions = self.settings.topic_partitions
        changelog = worker.agents.table.changelog_topic.get_topic_name()
        positions = await until_the_infrastructure_answers(
            lambda: asyncio.to_thread(load_positions, self.engine, changelog, partitions),
            what="reading the stream checkpoint", on_wait=on_wait)
        self.restored["states"] = await until_the_infrastructure_answers(
            lambda: restore(self.engine, bootstrap, changelog=changelog, partitions=partitions),
            what="restoring the stream state", on_wait=on_wait)
        self.relay = JournalRelay(self.engine, bootstrap, topic=EVENTS, partitions=partitions, start_after=positions,
                                  health=self.health.register("journal.relay"))
        self.publisher.on_append = self.relay.notify
        self.checkpointer = StreamCheckpointer(
            self.engine, bootstrap, changelog=changelog, source_topic=EVENTS, partitions=partitions,
            relay=self.relay, source_groups=[worker.app.conf.id, projection_group],
            outputs={SIGNALS: [projection_group, worker.app.conf.id]}, flush=worker.app.producer.flush,
            interval=self.settings.checkpoint_interval_seconds, health=self.health.register("stream.checkpoint"))
        await self.checkpointer.start()
        await self.relay.start()
        self.restored["decisions_enqueued"] = await until_the_infrastructure_answers(
            lambda: asyncio.to_thread(self._enqueue_missing), what="re-driving stored decisions", on_wait=on_wait)
        log.info("single-box recovery", extra={"restored": self.restored, "journal_after": positions})

    def _enqueue_missing(self) -> int:
        """Stored engage decisions whose ``decisions`` record died with the broker: into the outbox."""
        with session_scope(self.engine) as session:
            created = enqueue_missing(session=session, now=dt.datetime.now(dt.timezone.utc))
            session.commit()
        return created

    async def stop_relay(self) -> None:
        """Stop relaying (the journal keeps what was not relayed)."""
        if self.relay is not None:
            await self.relay.stop()

    async def stop_checkpoints(self) -> None:
        """A last checkpoint once the worker and the projection have stopped, then stop."""
        if self.checkpointer is not None:
            await self.checkpointer.stop(final=True)
