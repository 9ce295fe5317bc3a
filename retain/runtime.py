"""The whole service in one process: broker (if embedded), database, worker, outreach, API, scheduler.

``Runtime`` is what ``retain up`` and ``retain demo`` run. Each part is started in dependency
order and stopped in reverse, so Ctrl-C never leaves a broker process or a half-committed batch
behind. With ``KAFKA_URL`` / ``DATABASE_URL`` set it uses those instead of the embedded defaults;
the code path is otherwise the same. Outreach runs here too: a consumer group turns ``decisions``
into outbox rows, the scheduler runs the sender and the quiet-hours releases, and the API serves
the provider webhooks, the unsubscribe link and the preference page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy import Engine

from outreach.agents import DecisionPublisher, DecisionsToOutbox
from outreach.consent.publisher import KafkaConsentPublisher
from outreach.jobs import OutreachJobs, register_outreach_jobs
from outreach.outbox.sender import Sender
from outreach.webhooks.routers import ROUTERS as OUTREACH_ROUTERS
from outreach.wiring import WebhookSigningKeys, build_sender, with_webhook_keys
from retain.api import metrics
from retain.api.app import create_app, kafka_publisher
from retain.console.mount import install_console
from infra.broker import EmbeddedBroker, ensure_topics, free_port, wait_until_ready
from infra.database import make_engine
from retain.migrations import migrate
from signals.projection import Projection
from infra.scheduler import create_scheduler, shutdown
from infra.settings import Settings
from infra.stream_app import topic_partitions
from retain.worker import InProcessWorker, build_worker
from triggers.deferred import DeferralContext, install_deferral_context, register_deferral_runner
from triggers.policy import PolicyConfig

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: the runtime, not uvicorn, owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def bootstrap_of(kafka_url: str) -> str:
    """``kafka://host:port[;host2:port]`` (or plain host:port) -> aiokafka bootstrap string."""
    return kafka_url.split("://", 1)[-1].replace(";", ",")


@dataclass
class Runtime:
    """Start with ``async with Runtime(settings) as rt``; ``rt.api_url`` is the HTTP base URL."""

    settings: Settings
    api_port: int | None = None
    fold: Any = None  # the stream fold; None -> the worker's default (tests inject one)
    broker: EmbeddedBroker | None = None
    engine: Engine | None = None
    projection: Projection | None = None
    api_url: str = ""
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    worker: Any = None
    scheduler: Any = None
    outbox_consumer: DecisionsToOutbox | None = None
    sender: Sender | None = None
    outreach_jobs: OutreachJobs | None = None
    webhook_keys: WebhookSigningKeys = field(default_factory=WebhookSigningKeys)

    @property
    def broker_url(self) -> str:
        return self.broker.url if self.broker else str(self.settings.kafka_url)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap if self.broker else bootstrap_of(str(self.settings.kafka_url))

    async def __aenter__(self) -> "Runtime":
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        settings, stack = self.settings, self._stack
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Development only: webhook keys generated per data dir, so the sink's demo customers can sign.
        settings, self.webhook_keys = with_webhook_keys(settings)
        self.settings = settings
        if settings.uses_embedded_broker:
            self.broker = await asyncio.to_thread(EmbeddedBroker(settings.data_dir).start)
            stack.callback(self.broker.stop)
            log.info("embedded broker started", extra={"bootstrap": self.broker.bootstrap})
        else:
            await wait_until_ready(self.bootstrap)
        await ensure_topics(self.bootstrap, topic_partitions(settings))

        self.engine = make_engine(settings)
        await asyncio.to_thread(migrate, self.engine)
        stack.callback(self.engine.dispose)

        if settings.model_bootstrap:
            await asyncio.to_thread(self._ensure_model)

        self.worker = build_worker(settings, broker_url=self.broker_url, fold=self.fold)
        in_process = InProcessWorker(self.worker)
        await in_process.start()
        stack.push_async_callback(in_process.stop)

        self.projection = Projection(self.engine, self.bootstrap)
        await self.projection.start()
        stack.push_async_callback(self.projection.stop)

        # Outreach: decisions -> outbox, and the publishers the scheduler's jobs and the webhooks use.
        self.outbox_consumer = DecisionsToOutbox(self.engine, self.bootstrap)
        await self.outbox_consumer.start()
        stack.push_async_callback(self.outbox_consumer.stop)
        decision_publisher = DecisionPublisher(self.bootstrap)
        await decision_publisher.start()
        stack.push_async_callback(decision_publisher.stop)
        consent_publisher = KafkaConsentPublisher(self.bootstrap, timeout=settings.publish_timeout_seconds)
        stack.push_async_callback(consent_publisher.stop)
        decision_agents = getattr(self.worker.app, "retain_decision_agents", None)
        rulebook = decision_agents.stage.rulebook if decision_agents is not None else None
        self.sender = build_sender(settings, self.engine, rulebook=rulebook)
        self.outreach_jobs = OutreachJobs(self.sender, engine=self.engine, settings=settings,
                                          consent_publisher=consent_publisher)

        scheduler = create_scheduler(settings, self.engine)
        # Quiet-hours releases run here and publish their engage decisions to the decisions topic.
        register_deferral_runner(scheduler, DeferralContext(
            engine=self.engine, publish=decision_publisher,
            policy_config=PolicyConfig(marketing_email_requires_opt_in=settings.marketing_email_requires_opt_in)))
        stack.callback(install_deferral_context, None)
        register_outreach_jobs(scheduler, self.outreach_jobs, send_seconds=settings.outreach_send_interval_seconds,
                               reputation_seconds=settings.reputation_check_seconds)
        scheduler.start()
        stack.push_async_callback(shutdown, scheduler)
        self.scheduler = scheduler

        publisher = kafka_publisher(settings, self.bootstrap)
        await publisher.start()
        stack.push_async_callback(publisher.stop)
        app = install_console(create_app(settings, publisher=publisher, engine=self.engine,
                                         routers=[*OUTREACH_ROUTERS, metrics.router]))
        app.state.counters = lambda: self.worker.counters() if self.worker else {}  # /metrics, console overview
        app.state.consumer_lag = lambda: metrics.kafka_consumer_lag(self.bootstrap, settings.app_id,
                                                                    topic_partitions(settings))
        app.state.consent_publisher = consent_publisher  # webhooks publish consent changes after commit
        port = self.api_port if self.api_port is not None else settings.api_port
        if not port or (self.api_port is None and not _port_is_free(settings.api_host, port)):
            port = free_port(settings.api_host)  # a second demo next to a running one still starts
        server = _EmbeddedServer(uvicorn.Config(app, host=settings.api_host, port=port,
                                               log_level="warning", lifespan="off"))
        server_task = asyncio.create_task(server.serve(), name="retain.api")
        stack.push_async_callback(self._stop_server, server, server_task)
        while not server.started:  # uvicorn sets this once the socket listens
            if server_task.done():
                server_task.result()  # raises the bind error, e.g. port in use
            await asyncio.sleep(0.02)
        self.api_url = f"http://{settings.api_host}:{port}"

    def _ensure_model(self) -> None:
        from models.registry import ensure_model, promoted_version

        root = self.settings.model_registry_path
        if promoted_version(root) is None:
            log.info("no promoted risk model: training a first one on simulated events (once)")
        from signals import features

        version = ensure_model(root, customers=self.settings.model_bootstrap_customers, days=150, progress=False,
                               spec=features.from_settings(self.settings))
        log.info("serving risk model", extra={"model_version": version})

    @staticmethod
    async def _stop_server(server: uvicorn.Server, task: asyncio.Task[Any]) -> None:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)

    def summary(self) -> dict[str, Any]:
        """Counts from the worker, the projection and outreach."""
        counters = self.worker.counters() if self.worker else {}
        projected = self.projection.summary() if self.projection else {}
        agents = getattr(self.worker.app, "retain_decision_agents", None) if self.worker else None
        outreach = {
            "decisions": agents.counters.as_dict() if agents is not None else {},
            "enqueue": self.outbox_consumer.counters.as_dict() if self.outbox_consumer else {},
            "sender": dict(self.outreach_jobs.totals) if self.outreach_jobs else {},
        }
        return {"worker": counters, "projected": projected, "outreach": outreach}
