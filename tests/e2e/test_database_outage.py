"""A database outage pauses the service and loses nothing (issue 11, finding 1).

The whole ``Runtime`` on the embedded broker (the single-box mode), its database broken for a
while and restored: PostgreSQL behind a TCP proxy that drops and refuses connections, and SQLite
with its write lock held by another connection.

In this mode a 202 from ingest means "committed in the SQL ingest journal" (the memory broker
keeps nothing), so during the outage ingest cannot promise durability: it answers 503 with
``Retry-After``, and a producer that retries the same events (same ``event_id``) gets its 202 once
the database is back. To see the stages meet the outage, customers are ingested before it with
a checkout whose idle deadline falls after it begins: their events are folded and projected
first, then the database goes away, then their deadline fires, and the decision stage and the
projection pause (and say so) rather than dead-lettering. At the end every customer (before,
during and retried, after) has exactly one decision, one outbox row and one send; readiness was
red during the outage and is green after; ``/metrics`` answered 200 on every scrape. Every wait
is bounded and ends on a condition, never on a sleep.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlmodel import Session

from infra.broker import free_port
from infra.settings import Settings
from infra.stream_app import DEADLETTER
from outreach.outbox.records import OutboxRecord
from retain.runtime import Runtime
from signals.detectors.checkout_idle import CheckoutIdleConfig
from signals.records import CustomerRecord
from tests.e2e.test_demo_outreach import daytime_phone, idle_checkout, profile
from tests.rule_files import rules_yaml, service_rule
from tests.integration.conftest import breakable, postgres_url  # noqa: F401 - the fixtures
from tests.topics import TopicCollector
from tests.waiting import wait_for, wait_for_async
from triggers.records import DecisionRecord

pytestmark = pytest.mark.integration

RULES = rules_yaml(service_rule(
    "cart-help", "checkout_idle", "Tell the customer the cart is saved and that they can reply with any question."))
PER_PHASE = 4  # customers arriving before, during and after the outage
IDLE_SECONDS = 60.0  # the checkout_idle threshold of this runtime
DEADLINE_LEAD = dt.timedelta(seconds=30)  # the before-customers' deadline: this long after their ingest


def _settings(tmp_path: Path, database_url: str | None) -> Settings:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cart.yaml").write_text(RULES)
    port = free_port()
    return Settings(data_dir=tmp_path / "data", rules_dir=rules, database_url=database_url, api_port=port,
                    public_base_url=f"http://127.0.0.1:{port}", app_id=f"retain-outage-{uuid.uuid4().hex[:8]}",
                    topic_partitions=2, stream_tick_interval_seconds=0.2, outreach_send_interval_seconds=0.2,
                    rules_reload_seconds=60, outbox_lease_seconds=5, checkout_idle_seconds=IDLE_SECONDS)


def _count(runtime: Runtime, record: type, customers: list[str]) -> dict[str, int]:
    with Session(runtime.engine) as session:
        rows = session.execute(select(record.customer_id, func.count()).where(record.customer_id.in_(customers))
                               .group_by(record.customer_id)).all()
    return dict(rows)


def _folded(runtime: Runtime, customers: list[str], checkout_id: str) -> bool:
    """Every customer's profile is projected to SQL and their checkout is in their stream state."""
    with Session(runtime.engine) as session:
        projected = session.scalar(select(func.count()).select_from(CustomerRecord)
                                   .where(CustomerRecord.customer_id.in_(customers)))
    states = runtime.worker.agents.table.data
    return projected == len(customers) and all(
        f'"{checkout_id}"' in json.dumps(states.get(c.encode()) or {}) for c in customers)


class RetryingProducer:
    """Sends one batch as a real producer would: on 503 it waits ``Retry-After`` and sends the same events again."""

    def __init__(self, api: httpx.AsyncClient, events: list[dict]) -> None:
        self.api, self.events = api, events
        self.answers: list[tuple[int, str | None]] = []  # (status, Retry-After) of every attempt

    async def send(self) -> None:
        while True:
            response = await self.api.post("/v1/events", json=self.events)
            retry_after = response.headers.get("retry-after")
            self.answers.append((response.status_code, retry_after))
            if response.status_code != 503 or retry_after is None:
                return
            await asyncio.sleep(int(retry_after))  # the client's back-off, as the 503 asks: not a test timing


def _sent(runtime: Runtime, customers: list[str]) -> dict[str, int]:
    delivered = [m.to.split("@")[0] for m in runtime.sender.channels["email"].delivered]
    return {c: delivered.count(c) for c in customers if c in delivered}


def _source_up(text: str) -> dict[str, float]:
    for family in text_string_to_metric_families(text):
        if family.name == "retain_metrics_source_up":
            return {s.labels["source"]: s.value for s in family.samples}
    return {}


class Scraper:
    """Scrapes ``/metrics`` every ``interval`` seconds in the background and keeps every status code."""

    def __init__(self, api: httpx.AsyncClient, interval: float = 0.5) -> None:
        self.api, self.interval = api, interval
        self.statuses: list[int] = []
        self.last = ""
        self._task: asyncio.Task | None = None

    async def scrape(self) -> str:
        response = await self.api.get("/metrics")
        self.statuses.append(response.status_code)
        self.last = response.text
        return response.text

    async def _run(self) -> None:
        while True:
            await self.scrape()
            await asyncio.sleep(self.interval)  # a scrape interval, as Prometheus would keep

    async def __aenter__(self) -> "Scraper":
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def test_a_database_outage_pauses_work_and_loses_nothing(breakable, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)  # Faust keeps its app directory in the working directory
    settings = _settings(tmp_path, breakable.url)
    now = dt.datetime.now(dt.timezone.utc)
    _, zone = daytime_phone(now)
    an_hour_ago = now - dt.timedelta(hours=1)  # idle long past the threshold: decided as soon as folded
    run = uuid.uuid4().hex[:6]
    phases = {name: [f"{run}-{name}-{i}" for i in range(PER_PHASE)] for name in ("before", "during", "after")}
    everyone = [c for customers in phases.values() for c in customers]

    def events(customers: list[str], checkout_at: dt.datetime) -> list[dict]:
        return ([profile(c, an_hour_ago - dt.timedelta(days=1), zone) for c in customers]
                + [idle_checkout(c, "k1", checkout_at) for c in customers])

    async with Runtime(settings, api_port=settings.api_port) as runtime, \
            httpx.AsyncClient(base_url=runtime.api_url, timeout=30) as api, \
            TopicCollector(runtime.bootstrap, DEADLETTER, settings.topic_partitions) as deadletter, \
            Scraper(api) as metrics:

        async def accepted(batch: list[dict]) -> None:
            response = await api.post("/v1/events", json=batch)
            assert response.status_code == 202, response.text

        async def ready() -> bool:
            return (await api.get("/readyz")).status_code == 200 and runtime.health.ready()

        async def not_ready() -> bool:
            return not await ready()

        await wait_for_async(ready, 60, lambda: f"ready before the outage: {runtime.health.problems()}")
        # Before: checkouts whose idle deadline (threshold + the detector's grace, from settings) falls
        # DEADLINE_LEAD from now, so they are folded and projected now and decided during the outage.
        deadline = dt.datetime.now(dt.timezone.utc) + DEADLINE_LEAD
        checkout_at = deadline - dt.timedelta(seconds=settings.checkout_idle_seconds) - CheckoutIdleConfig().grace
        await accepted(events(phases["before"], checkout_at))
        await wait_for(lambda: _folded(runtime, phases["before"], "k1"), 60, "the before-customers folded")
        assert not _count(runtime, DecisionRecord, phases["before"]), "decided before their deadline"

        breakable.start_outage()
        outage_began = dt.datetime.now(dt.timezone.utc)
        assert outage_began < deadline, f"folding took past the deadline ({outage_began} >= {deadline}): raise the lead"
        during = RetryingProducer(api, events(phases["during"], an_hour_ago))
        sending = asyncio.create_task(during.send())
        # The parts that write meet the outage when the deadline fires: they pause and say so, and
        # dead-letter nothing.
        paused = {"triggers.decide", "signals.projection"}
        await wait_for(lambda: deadletter.records or paused <= set(runtime.health.problems()), 120,
                       lambda: f"the outage seen by {paused}: {runtime.health.problems()}")
        assert not deadletter.records, deadletter.values
        await wait_for_async(not_ready, 30, "readiness red during the outage")
        if breakable.kind == "postgres":  # the scrape says which source failed (a locked SQLite still reads)
            await wait_for(lambda: _source_up(metrics.last).get("database") == 0, 30, "database down in /metrics")
        # Ingest cannot journal: 503 with Retry-After (never a 202 it could not keep), and no other answer.
        await wait_for(lambda: during.answers, 60, "the first answer during the outage")
        assert all(status == 503 and retry_after and int(retry_after) > 0
                   for status, retry_after in during.answers), during.answers

        breakable.end_outage()
        await asyncio.wait_for(sending, 120)  # the producer's retry of the same events is accepted now
        assert during.answers[-1][0] == 202, during.answers
        await accepted(events(phases["after"], an_hour_ago))
        await wait_for(lambda: len(_sent(runtime, everyone)) == len(everyone), 120,
                       lambda: f"every customer's send; sent {_sent(runtime, everyone)}, "
                               f"problems {runtime.health.problems()}")
        await wait_for_async(ready, 60, lambda: f"ready after the outage: {runtime.health.problems()}")
        await wait_for(lambda: _source_up(metrics.last) == {"database": 1, "broker": 1, "process": 1}, 30,
                       lambda: f"every metrics source up: {_source_up(metrics.last)}")

        assert _count(runtime, DecisionRecord, everyone) == {c: 1 for c in everyone}
        assert _count(runtime, OutboxRecord, everyone) == {c: 1 for c in everyone}
        assert _sent(runtime, everyone) == {c: 1 for c in everyone}
        assert not deadletter.records, deadletter.values
    assert metrics.statuses and set(metrics.statuses) == {200}, metrics.statuses
