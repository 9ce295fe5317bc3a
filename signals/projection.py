"""Projects the streams into SQL: customer profiles and goal events from ``events``, signals from ``signals``.

A thin shell around ``signals.service``: one aiokafka consumer group, database writes in a worker
thread (SQLAlchemy is synchronous), commits after each batch is stored. Every write is idempotent
(profiles keep the newest by event time, signals and goal events are unique on their id), so a redelivered batch
after a crash changes nothing. Dead-letter records are counted here too, for the console and the
demo summary.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError
from sqlalchemy import Engine

from infra.database import session_scope
from infra.stream_app import DEADLETTER, EVENTS, SIGNALS
from signals.events import parse_event
from signals.goal_events import record_goal_event
from signals.service import (
    ContactHasher,
    index_contacts,
    profile_addresses,
    profile_values,
    record_signal,
    upsert_customer_profile,
)
from signals.signal import Signal

log = logging.getLogger(__name__)


class Projection:
    """Consume events, signals and deadletter; store profiles and signals; count what passed."""

    def __init__(self, engine: Engine, bootstrap: str, *, group_id: str = "retain-projection",
                 contact_hasher: ContactHasher | None = None) -> None:
        self.engine = engine
        # The keyed hash of contact points, so the console finds people by e-mail or phone (None: not indexed).
        self.contact_hasher = contact_hasher
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.events = 0
        self.signals: Counter[str] = Counter()
        self.deadletter = 0
        self.deadletter_reasons: Counter[str] = Counter()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Join the group and start consuming in the background."""
        self._consumer = AIOKafkaConsumer(
            EVENTS, SIGNALS, DEADLETTER,
            bootstrap_servers=self.bootstrap, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="signals.projection")

    async def stop(self) -> None:
        """Stop consuming (what was stored is committed)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    def summary(self) -> dict[str, Any]:
        """Counts since start: events, signals by kind, deadletter."""
        return {"events": self.events, "signals": dict(sorted(self.signals.items())),
                "deadletter": self.deadletter, "deadletter_reasons": dict(self.deadletter_reasons)}

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=2000)
            records = [r for batch in batches.values() for r in batch]
            if not records:
                continue
            await asyncio.to_thread(self._store, records)
            await self._consumer.commit()

    def _store(self, records: list[Any]) -> None:
        with session_scope(self.engine) as session:
            for record in records:
                if record.topic == EVENTS:
                    self.events += 1
                    self._store_event(session, record.value)
                elif record.topic == SIGNALS:
                    signal = Signal.from_dict(json.loads(record.value))
                    record_signal(session=session, signal=signal)
                    self.signals[signal.kind] += 1
                elif record.topic == DEADLETTER:
                    self.deadletter += 1
                    reason = json.loads(record.value).get("reason", "")
                    self.deadletter_reasons[str(reason).split(":")[0][:60]] += 1
            session.commit()

    def _store_event(self, session: Any, raw: bytes) -> None:
        try:
            event = parse_event(raw)
        except (ValidationError, ValueError):
            return  # the stream worker sends it to deadletter with the reason; nothing to project
        if event.type == "customer.profile":
            applied = upsert_customer_profile(session=session, event=event)
            if applied and self.contact_hasher is not None:
                index_contacts(session=session, customer_id=event.customer_id, hasher=self.contact_hasher,
                               addresses=profile_addresses(profile_values(event)), now=event.occurred_at)
        else:
            # Kept for results per rule: did the customer reach a rule's goal after the message?
            record_goal_event(session=session, event=event)
