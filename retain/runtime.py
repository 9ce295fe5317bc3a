"""The whole service in one process: broker (if embedded), database, worker, outreach, API, scheduler.

``Runtime`` is what ``retain up`` and ``retain demo`` run. The database and the API come first:
ingest, provider webhooks, unsubscribe and preference pages answer within seconds of a restart,
while ``health`` (``app.state.health``, read by ``/readyz``) says which start-up phases are still
running (broker, model, stream state, worker, consumers, scheduler). The same ``Health`` hears
from the worker's stages, the consumer loops and the sender; every background loop runs under
one ``Supervisor`` that logs, counts and restarts a crashed loop. Each part is stopped in
reverse order, so Ctrl-C never leaves a broker process or a half-committed batch behind. With
``KAFKA_URL`` / ``DATABASE_URL`` set it uses those instead of the embedded defaults; without
KAFKA_URL the single-box wiring (``retain.single_box``) makes the database the durable record. Outreach runs here too: a consumer group turns ``decisions``
into outbox rows, the scheduler runs the sender and the quiet-hours releases, and the API serves
the provider webhooks, the unsubscribe link and the preference page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import Any, Callable

import uvicorn
from sqlalchemy import Engine

from outreach.agents import DecisionPublisher, DecisionsToOutbox
from outreach.consent.contact_points import contact_hash
from outreach.consent.publisher import KafkaConsentPublisher
from outreach.conversations.escalations import escalations_on
from outreach.jobs import OutreachJobs, register_outreach_jobs
from outreach.outbox.sender import Sender
from outreach.webhooks.routers import ROUTERS as OUTREACH_ROUTERS
from outreach.wiring import WebhookSigningKeys, build_sender, rule_for_rulebook, rule_for_rules_dir, with_webhook_keys
from retain.api import metrics
from retain.api.app import create_app, kafka_publisher
from retain.console.mount import install_console
from infra.backoff import until_the_infrastructure_answers
from infra.broker import EmbeddedBroker, ensure_topics, free_port, wait_until_ready
from infra.database import make_engine
from infra.private_files import private_dir
from infra.supervisor import Supervisor
from retain.migrations import migrate
from signals.projection import Projection
from infra.scheduler import create_scheduler, shutdown, start_scheduler
from infra.settings import Settings, require_production_settings
from infra.stream_app import topic_partitions
from retain.single_box import SingleBox, mode_description
from retain.worker import InProcessWorker, build_worker
from infra.health import Health
from outreach.consent.replay import GatedConsentPublisher
from triggers.deferred import DeferralContext, install_deferral_context, register_deferral_runner
from triggers.policy import PolicyConfig

log = logging.getLogger(__name__)

# Registered on ``Runtime.health`` as ``startup.<phase>``; each reports ok once it is done.
STARTUP_PHASES = ("broker", "model", "stream_state", "worker", "consumers", "scheduler")


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
    announce: Callable[[str], None] | None = None  # `retain up` prints the start-up messages
    health: Health = field(default_factory=Health)  # start-up phases and parts; /readyz reads it
    single_box: SingleBox | None = None
    broker_ready: bool = False
    api_ready: asyncio.Event = field(default_factory=asyncio.Event)  # set once the API listens
    supervisor: Supervisor | None = None

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
        require_production_settings(settings)  # before anything starts; the API re-checks with the database
        private_dir(settings.data_dir)
        # Development only: webhook keys generated per data dir, so the sink's demo customers can sign.
        settings, self.webhook_keys = with_webhook_keys(settings)
        self.settings = settings
        phases = {name: self.health.register(f"startup.{name}") for name in STARTUP_PHASES}

        self.engine = make_engine(settings)
        await asyncio.to_thread(migrate, self.engine)
        stack.callback(self.engine.dispose)
        if settings.uses_embedded_broker:
            self.broker = EmbeddedBroker(settings.data_dir)  # port chosen now, started after the API
            self.single_box = SingleBox(self.engine, settings, self.health)

        # The API first: ingest, provider webhooks, unsubscribe and preference pages need only the
        # database (single-box ingest writes the journal), so they answer while the rest starts.
        consent_publisher = await self._start_api(settings, stack)
        self._announce(f"retain API answering at {self.api_url}; {mode_description(settings)}")

        if self.broker is not None:
            await self.broker.start_async()  # from the loop's thread: PR_SET_PDEATHSIG follows this thread
            stack.callback(self.broker.stop)
            log.info("embedded broker started", extra={"bootstrap": self.broker.bootstrap})
        else:
            await wait_until_ready(self.bootstrap)
        await ensure_topics(self.bootstrap, topic_partitions(settings))
        self.broker_ready = True
        phases["broker"].ok(self.bootstrap)

        if settings.model_bootstrap:
            await asyncio.to_thread(self._ensure_model)
        phases["model"].ok()

        self.worker = build_worker(settings, broker_url=self.broker_url, fold=self.fold, health=self.health)
        key = settings.contact_hash_key.get_secret_value().encode()
        self.projection = Projection(self.engine, self.bootstrap,
                                     contact_hasher=lambda channel, address: contact_hash(key, channel, address))
        if self.single_box is not None:
            # Before the worker: its table recovers from the restored changelog; the final
            # checkpoint runs after the worker and the projection stopped (stack order).
            stack.push_async_callback(self.single_box.stop_checkpoints)
            await self.single_box.recover(self.bootstrap, self.worker, projection_group=self.projection.group_id,
                                          on_wait=phases["stream_state"].degraded)
            stack.push_async_callback(self.single_box.stop_relay)
        phases["stream_state"].ok()

        in_process = InProcessWorker(self.worker)
        await in_process.start()
        stack.push_async_callback(in_process.stop)
        phases["worker"].ok()

        self.supervisor = supervisor = Supervisor(self.health)
        stack.push_async_callback(supervisor.stop)  # after the parts' own stops below: a safety net
        stack.push_async_callback(supervisor.start("signals.projection", self.projection.run).stop)

        # Outreach: decisions -> outbox, and the publishers the scheduler's jobs and the webhooks use.
        self.outbox_consumer = DecisionsToOutbox(self.engine, self.bootstrap)
        stack.push_async_callback(supervisor.start("outreach.enqueue", self.outbox_consumer.run).stop)
        decision_publisher = DecisionPublisher(self.bootstrap)
        await decision_publisher.start()
        stack.push_async_callback(decision_publisher.stop)
        if isinstance(consent_publisher, GatedConsentPublisher):
            # The broker forgot the consent topic: rebuilt from SQL (a replay after a failed try
            # repeats changes, which carry their change_id and apply idempotently).
            await until_the_infrastructure_answers(consent_publisher.open, what="rebuilding the consent topic",
                                                   on_wait=phases["consumers"].degraded)
        phases["consumers"].ok()
        decision_agents = getattr(self.worker.app, "retain_decision_agents", None)
        rulebook = decision_agents.stage.rulebook if decision_agents is not None else None
        rule_for = (rule_for_rulebook(rulebook) if rulebook is not None
                    else rule_for_rules_dir(settings.rules_dir, check_seconds=settings.rules_reload_seconds))
        self.sender = build_sender(self.engine, outbox=settings.outbox, providers=settings.providers, llm=settings.llm,
                                   framing=settings.message_framing, rule_for=rule_for)
        self.outreach_jobs = OutreachJobs(self.sender, engine=self.engine, reputation=settings.reputation,
                                          consent_publisher=consent_publisher, batch=settings.outbox_batch_size,
                                          drain_seconds=settings.outbox_drain_seconds,
                                          health=self.health.register("outreach.sender"))

        scheduler = create_scheduler(self.engine)
        # Quiet-hours releases run here and publish their engage decisions to the decisions topic.
        register_deferral_runner(scheduler, DeferralContext(
            engine=self.engine, publish=decision_publisher, policy_config=PolicyConfig.from_settings(settings.policy),
            escalations=escalations_on))
        stack.callback(install_deferral_context, None)
        register_outreach_jobs(scheduler, self.outreach_jobs, send_seconds=settings.outreach_send_interval_seconds,
                               reputation_seconds=settings.reputation_check_seconds)
        await start_scheduler(scheduler, self.engine, on_wait=phases["scheduler"].degraded)
        stack.push_async_callback(shutdown, scheduler)
        self.scheduler = scheduler
        phases["scheduler"].ok()
        self._announce(f"retain is ready: every part started (broker {self.bootstrap})")

    async def _start_api(self, settings: Settings, stack: contextlib.AsyncExitStack) -> Any:
        """Serve the API now; returns the consent publisher the webhooks (and later the jobs) use."""
        if self.single_box is not None:
            publisher: Any = self.single_box.publisher
            consent_publisher: Any = GatedConsentPublisher(
                KafkaConsentPublisher(self.bootstrap, timeout=settings.publish_timeout_seconds), self.engine)
        else:
            publisher = await stack.enter_async_context(kafka_publisher(settings, self.bootstrap))
            consent_publisher = KafkaConsentPublisher(self.bootstrap, timeout=settings.publish_timeout_seconds)
        stack.push_async_callback(consent_publisher.stop)
        app = install_console(create_app(settings, publisher=publisher, engine=self.engine,
                                         routers=OUTREACH_ROUTERS))
        app.state.health = self.health  # /readyz and /metrics: the same registry the parts report to
        app.state.counters = lambda: self.worker.counters() if self.worker else {}  # /metrics, console overview
        app.state.consumer_lag = self._consumer_lag  # asks the broker
        app.state.local_lag = self._local_lag  # the consumer loops' own view, no broker round trip
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
        self.api_ready.set()
        return consent_publisher

    def _announce(self, message: str) -> None:
        log.info(message)
        if self.announce is not None:
            self.announce(message)

    async def _consumer_lag(self) -> dict[tuple[str, str, int], int]:
        """The stream worker's records behind per (group, topic, partition), from its committed offsets."""
        if not self.broker_ready:
            return {}  # nothing to ask yet: the broker is still starting
        settings = self.settings
        lag = await metrics.kafka_consumer_lag(self.bootstrap, settings.app_id, topic_partitions(settings))
        return {(settings.app_id, topic, partition): n for (topic, partition), n in lag.items()}

    def _local_lag(self) -> dict[tuple[str, str, int], int]:
        """The consumer loops' records behind per (group, topic, partition), as their consumers see it."""
        lag = {}
        for part in (self.projection, self.outbox_consumer):
            if part is not None:
                lag.update({(part.consumer.group_id, t, p): n for (t, p), n in part.consumer.counters.lag.items()})
        return lag

    def _ensure_model(self) -> None:
        from models.registry import ensure_model, promoted_version

        root = self.settings.model_registry_path
        if promoted_version(root) is None:
            log.info("no promoted risk model: training a first one on simulated events (once)")
        from signals import features

        version = ensure_model(root, customers=self.settings.model_bootstrap_customers, days=150, progress=False,
                               spec=features.from_settings(self.settings.features))
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
