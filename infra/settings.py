"""One settings object, read from the environment (and an optional ``.env`` file), and its typed slices.

Every entry point builds its ``Settings`` once; nothing else reads ``os.environ``. The root
(``retain/``) keeps the whole object and hands each part only its slice: a small frozen dataclass
with the fields that part reads, named as in ``Settings`` (so as the environment variables:
``RETAIN_<FIELD>``), e.g. ``settings.providers`` for the SendGrid and Twilio channels. Secrets
are ``SecretStr`` so they never print.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    # Accept both the conventional bare name (KAFKA_URL) and the prefixed one (RETAIN_KAFKA_URL).
    return AliasChoices(name, f"RETAIN_{name}")


@dataclass(frozen=True)
class FeatureSettings:
    """Which feature spec the fold, the backtest, the dataset builder and the served model share."""

    feature_spec: Path | None  # a YAML/JSON spec file; None: the built-in signals/features/builtin.yaml


@dataclass(frozen=True)
class DetectorSettings:
    """The per-customer fold's slice: the detectors' thresholds (``signals/detectors/*``) and its features."""

    checkout_idle_seconds: float
    shipping_eta_margin_hours: float
    usage_recent_days: int
    usage_baseline_days: int
    allowed_lateness_seconds: float
    features: FeatureSettings


@dataclass(frozen=True)
class PolicySettings:
    """The contact policy's knobs an operator sets from the environment (the rest are the policy's defaults)."""

    marketing_email_requires_opt_in: bool
    escalation_pause_hours: float  # an escalated reply stops automated outreach for this long


@dataclass(frozen=True)
class ServingModelSettings:
    """Which promoted risk model a worker serves, how it buckets risk and how often it looks for a new one."""

    model_registry_path: Path
    risk_cut_points: list[float]
    model_reload_seconds: float
    features: FeatureSettings  # only a model taking the columns of this spec may serve


@dataclass(frozen=True)
class DecisionSettings:
    """The decision stage's slice: the rules folder and its reload, the served model and the policy."""

    rules_dir: Path
    rules_actor: str
    rules_reload_seconds: float
    serving: ServingModelSettings
    policy: PolicySettings


@dataclass(frozen=True)
class ThreadingSettings:
    """How e-mail is threaded to its replies: reply addresses keyed like the unsubscribe links, our Message-IDs."""

    unsubscribe_secret: SecretStr  # keys the reply addresses' tags
    sendgrid_from_email: str  # Message-IDs are on the sender's domain
    inbound_email_domain: str | None  # replies go to reply+<token>@<it>; unset: no Reply-To


@dataclass(frozen=True)
class ProviderSettings:
    """SendGrid and Twilio accounts, their timeouts and the send rates (unset keys: the local sink)."""

    sendgrid_api_key: SecretStr | None
    sendgrid_host: str
    sendgrid_from_email: str
    sendgrid_marketing_asm_group_id: int | None
    sender_name: str  # the e-mail's From name
    twilio_account_sid: str | None
    twilio_auth_token: SecretStr | None
    twilio_messaging_service_sid: str | None
    twilio_from_number: str | None
    twilio_base_url: str | None
    sms_validity_period_seconds: int
    provider_timeout_seconds: float
    email_rate_per_second: float
    sms_rate_per_second: float
    threading: ThreadingSettings  # outbound e-mail carries its Message-ID and reply address


@dataclass(frozen=True)
class OutboxSettings:
    """How the outbox sender runs: secrets, links, attempts, lease, send-time consent default, escalation pause."""

    environment: str
    unsubscribe_secret: SecretStr
    contact_hash_key: SecretStr
    public_base_url: str
    outbox_max_attempts: int
    outbox_lease_seconds: float
    marketing_email_requires_opt_in: bool
    escalation_pause_hours: float  # a message queued before an escalated reply is held for this long
    outbox_send_concurrency: int  # provider calls in flight at once per sender pass
    outbox_batch_size: int  # rows one sender pass claims
    outbox_drain_seconds: float  # how long one run of the send job keeps claiming full batches


@dataclass(frozen=True)
class LlmSettings:
    """The OpenAI-compatible drafting server (unset: the template drafts, the demo runs offline)."""

    openai_base_url: str | None
    openai_api_key: SecretStr | None
    llm_model: str
    llm_timeout_seconds: float
    llm_max_retries: int


@dataclass(frozen=True)
class MessageFramingSettings:
    """What the system (never the model) adds to a message, and how long an SMS may be."""

    sender_name: str
    postal_address: str
    ai_disclosure: bool
    sms_max_segments: int


@dataclass(frozen=True)
class ReputationSettings:
    """When the reputation guard pauses a rule, and how often it sweeps."""

    reputation_window_days: int
    reputation_min_sends: int
    reputation_max_complaint_rate: float
    reputation_max_email_opt_out_rate: float
    reputation_max_sms_opt_out_rate: float
    reputation_confidence: float
    reputation_check_seconds: float
    ops_webhook_url: str | None  # where a pause is announced (a signed POST); unset: the log only
    ops_webhook_secret: SecretStr | None
    public_base_url: str  # the notice links to the rule's console page


@dataclass(frozen=True)
class WebhookSettings:
    """What the provider webhooks and the preference pages need: verification keys, token secrets, links."""

    public_base_url: str
    unsubscribe_secret: SecretStr
    contact_hash_key: SecretStr
    sendgrid_webhook_public_key: str | None
    sendgrid_marketing_asm_group_id: int | None
    twilio_auth_token: SecretStr | None
    webhook_max_age_seconds: float
    sender_name: str  # the SMS keyword replies name the sender
    reputation: ReputationSettings  # a complaint or opt-out re-evaluates its rule


@dataclass(frozen=True)
class ConversationSettings:
    """Customers' replies (outreach/conversations/): inbound e-mail, triage, the helpdesk hand-off, answers."""

    environment: str
    data_dir: Path  # the reply classifier is trained and kept under it
    contact_hash_key: SecretStr  # a reply's sender is found by the hash of their address or number
    triage_timeout_seconds: float
    inbound_email_secret: SecretStr | None
    inbound_email_username: str
    inbound_email_max_bytes: int
    support_webhook_url: str | None
    support_webhook_secret: SecretStr | None
    threading: ThreadingSettings  # a reply address names the message it answers
    llm: LlmSettings  # the LLM triages replies and drafts suggested answers
    message_framing: MessageFramingSettings  # answers are framed and limited like every message


Slice = TypeVar("Slice")


def _slice(cls: type[Slice], settings: Any, **nested: Any) -> Slice:
    """``cls`` filled from the same-named fields of ``settings`` (``nested`` gives the fields that are slices)."""
    names = [f.name for f in dataclasses.fields(cls) if f.name not in nested]  # type: ignore[arg-type]
    return cls(**{name: getattr(settings, name) for name in names}, **nested)


class Settings(BaseSettings):
    """Runtime configuration. Unset values mean "use the embedded default"."""

    model_config = SettingsConfigDict(env_prefix="RETAIN_", env_file=".env", extra="ignore")

    environment: str = "development"
    data_dir: Path = Path(".retain")

    # Infrastructure: unset -> embedded Tansu broker and a SQLite file under data_dir.
    kafka_url: str | None = Field(default=None, validation_alias=_env("KAFKA_URL"))
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    topic_partitions: int = 4

    # Faust worker
    app_id: str = "retain"
    worker_web_port: int | None = None
    # Consumer-group session timeout: how long a worker that died without leaving is waited for.
    stream_session_timeout_seconds: float = 10.0
    # Tansu holds every JoinGroup for about half of this, so it bounds each rebalance's latency.
    stream_rebalance_timeout_seconds: float = 10.0
    stream_tick_interval_seconds: float = 1.0
    # A caught-up partition's ticks fire deadlines up to the newest event time folded there while
    # records keep coming, up to wall-clock now once none came for this long (signals/tick_clock.py).
    stream_idle_seconds: float = Field(default=10.0, ge=0.0)
    # Single-box mode (no KAFKA_URL): how often stream state is checkpointed to the database. A
    # restart replays the journal after the last checkpoint, so this bounds replay, not loss.
    checkpoint_interval_seconds: float = 5.0

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # An ingest credential from the environment (per-producer ones: `retain producers create`).
    ingest_token: SecretStr | None = None
    ingest_token_scopes: list[str] = ["events", "profile"]  # what RETAIN_INGEST_TOKEN may send
    # A verified per-producer credential is trusted this long without asking the database again, so
    # Kafka-mode ingest rides out a database blip; a revoked credential works at most this long. 0: off.
    ingest_credential_cache_seconds: float = 30.0
    ingest_max_batch: int = 500  # events per POST; more -> 413
    ingest_max_body_bytes: int = 5_000_000  # request body cap; more -> 413
    max_request_body_bytes: int = 1_000_000  # every other route's body cap (console, login); more -> 413
    # One event as the producer sends it (key + value + record overhead); more -> 413. Keep it at or
    # below the broker's message.max.bytes (Kafka's default is 1 MiB plus a few bytes).
    ingest_max_event_bytes: int = 1_048_576
    ingest_max_depth: int = 32  # nesting of objects and arrays within one event; deeper -> 422
    publish_timeout_seconds: float = 5.0  # broker must ack a batch within this, else 503
    # Operator console (retain/console/): sessions, cookies, and the event history console backtests read
    console_session_hours: float = 12.0
    console_cookie_secure: bool = True  # browsers accept Secure cookies on http://127.0.0.1 and localhost too
    backtest_events_path: Path | None = None  # .jsonl or .parquet of past events; unset -> backtests disabled
    # Proxies whose X-Forwarded-For is believed (JSON list of addresses/networks, e.g. '["10.0.0.0/8"]');
    # empty: the connection's own address is the client's (login throttling and audit use it).
    trusted_proxies: list[str] = []
    metrics_token: SecretStr | None = None  # /metrics wants it as a bearer token (required outside development)

    # Detectors (defaults documented in signals/detectors/*)
    checkout_idle_seconds: float = 90.0
    shipping_eta_margin_hours: float = 12.0
    usage_recent_days: int = 7
    usage_baseline_days: int = 28
    allowed_lateness_seconds: float = 300.0
    # An event whose occurred_at is further than this after our clock is refused (API: 422) or
    # dead-lettered (worker): it cannot have happened yet (signals/event_time.py).
    max_future_skew_seconds: float = Field(default=86400.0, gt=0)

    # Trigger rules and contact policy (defaults documented in triggers/policy/config.py)
    rules_dir: Path = Path("rules")
    marketing_email_requires_opt_in: bool = False
    rules_reload_seconds: float = 2.0  # how often the worker re-reads rules_dir (content fingerprint)
    rules_actor: str = "file"  # who rule changes are attributed to in the audit log

    # Churn-risk model (models/): registry directory (unset -> data_dir/models) and risk buckets
    model_registry_dir: Path | None = None
    risk_cut_points: list[float] = [0.2, 0.5]  # low < 0.2 <= medium < 0.5 <= high
    model_reload_seconds: float = 5.0
    # With no promoted model, the service trains a first one on simulated events at start
    # (about 15 s, once per registry) so decisions carry a risk score from the first minute.
    model_bootstrap: bool = True
    model_bootstrap_customers: int = 1000
    # Feature spec (signals/features/spec.py) the worker, backtest and dataset builder compile;
    # unset -> the built-in signals/features/builtin.yaml. A served model must take its columns.
    feature_spec: Path | None = None

    @property
    def model_registry_path(self) -> Path:
        """Where model artifacts and the promoted pointer live."""
        return self.model_registry_dir or self.data_dir / "models"

    # LLM drafting (unset -> template drafter, the demo runs offline)
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 20.0  # per request; the client's own default is 600 s
    llm_max_retries: int = 1  # client-level retries on 429/5xx/timeouts; the client's default is 2
    # Outreach message framing (added by the system, never by the model)
    sender_name: str = "retain"
    postal_address: str = "retain, 1 Example Street, 10115 Berlin, Germany"
    ai_disclosure: bool = False  # append a line saying the text was drafted with AI
    sms_max_segments: int = 2

    # Outreach delivery (outreach/): providers, webhooks, consent store. Unset keys -> local sink.
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_from_email: str = "notifications@example.com"
    sendgrid_webhook_public_key: str | None = None  # base64 DER (the Event Webhook "verification key")
    sendgrid_marketing_asm_group_id: int | None = None  # unsubscribe group for marketing topics
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_from_number: str | None = None
    twilio_base_url: str | None = None  # None -> https://api.twilio.com (tests point it at a fake)
    sms_validity_period_seconds: int = 4 * 3600  # a backlog never goes out late
    provider_timeout_seconds: float = 10.0  # both providers' clients have no timeout by default
    public_base_url: str = "http://127.0.0.1:8000"  # where the providers and customers reach the API
    unsubscribe_secret: SecretStr = SecretStr("development-unsubscribe-secret")
    contact_hash_key: SecretStr = SecretStr("development-contact-hash-key")  # keyed hash of contact points
    webhook_max_age_seconds: float = 300.0  # older signed webhooks are refused as replays
    support_webhook_url: str | None = None  # helpdesk hand-off of customers' replies (signed, see below)
    outbox_max_attempts: int = 5
    outbox_lease_seconds: float = 120.0
    outbox_send_concurrency: int = Field(default=8, ge=1, le=64)  # provider calls in flight at once (bench_outbox_drain)
    # One pass claims a batch; the send job takes the next one at once while passes come back full
    # (a backlog drains at the sender's speed, not batch / interval), for up to the drain time.
    outbox_batch_size: int = Field(default=200, ge=1, le=5000)
    outbox_drain_seconds: float = Field(default=5.0, ge=0.0)
    email_rate_per_second: float = 50.0
    sms_rate_per_second: float = 1.0
    # The reputation guard pauses a rule when, with this confidence, a rate is past its limit
    # (outreach/reputation_verdict.py gives the reasons for each number; a test keeps them equal).
    reputation_window_days: int = 7
    reputation_min_sends: int = 20  # per channel
    reputation_max_complaint_rate: float = 0.003  # mailbox providers act at 0.3 %
    reputation_max_email_opt_out_rate: float = 0.01
    reputation_max_sms_opt_out_rate: float = 0.06
    reputation_confidence: float = 0.99
    ops_webhook_url: str | None = None  # a rule paused by the guard is POSTed here, signed
    ops_webhook_secret: SecretStr | None = None  # HMAC-SHA256 key of that POST
    outreach_send_interval_seconds: float = 1.0  # how often the sender job claims due outbox rows
    reputation_check_seconds: float = 60.0  # how often every recently sending rule is re-evaluated

    # Conversations (outreach/conversations/): customers' replies, triage, the console inbox
    escalation_pause_hours: float = 72.0  # a complaint / frustrated / cancelling reply stops automated outreach
    triage_timeout_seconds: float = 8.0  # the LLM's triage answer; past it the built-in classifier decides
    # SendGrid Inbound Parse posts unsigned: it must know a secret, as the last path segment
    # (/outreach/sendgrid/inbound/<secret>) or as HTTP basic auth in the configured URL.
    inbound_email_secret: SecretStr | None = None
    inbound_email_username: str = "sendgrid"
    inbound_email_max_bytes: int = 30_000_000  # SendGrid's own limit for a whole message; attachments are dropped
    # Replies go to reply+<token>@<inbound_email_domain> (the Inbound Parse MX host); unset -> no Reply-To.
    inbound_email_domain: str | None = None
    support_webhook_secret: SecretStr | None = None  # signs the helpdesk hand-off (X-Retain-Signature)

    # Typed slices: each part gets only what it reads (built on access, so ``model_copy`` stays consistent).
    @property
    def features(self) -> FeatureSettings:
        """The feature spec's slice."""
        return _slice(FeatureSettings, self)

    @property
    def detectors(self) -> DetectorSettings:
        """The fold's slice (detectors and the feature spec)."""
        return _slice(DetectorSettings, self, features=self.features)

    @property
    def providers(self) -> ProviderSettings:
        """The delivery channels' slice."""
        return _slice(ProviderSettings, self, threading=self.threading)

    @property
    def outbox(self) -> OutboxSettings:
        """The outbox sender's slice."""
        return _slice(OutboxSettings, self)

    @property
    def policy(self) -> PolicySettings:
        """The contact policy's slice."""
        return _slice(PolicySettings, self)

    @property
    def serving(self) -> ServingModelSettings:
        """The served risk model's slice."""
        return _slice(ServingModelSettings, self, features=self.features)

    @property
    def decisions(self) -> DecisionSettings:
        """The decision stage's slice."""
        return _slice(DecisionSettings, self, serving=self.serving, policy=self.policy)

    @property
    def llm(self) -> LlmSettings:
        """The LLM drafter's slice."""
        return _slice(LlmSettings, self)

    @property
    def message_framing(self) -> MessageFramingSettings:
        """The system parts' and length limits' slice."""
        return _slice(MessageFramingSettings, self)

    @property
    def reputation(self) -> ReputationSettings:
        """The reputation guard's slice."""
        return _slice(ReputationSettings, self)

    @property
    def webhooks(self) -> WebhookSettings:
        """The webhooks' slice."""
        return _slice(WebhookSettings, self, reputation=self.reputation)

    @property
    def threading(self) -> ThreadingSettings:
        """The e-mail threading slice (reply addresses, Message-IDs)."""
        return _slice(ThreadingSettings, self)

    @property
    def conversations(self) -> ConversationSettings:
        """The conversations' slice: inbound e-mail, triage, the helpdesk hand-off, answers."""
        return _slice(ConversationSettings, self, threading=self.threading, llm=self.llm,
                      message_framing=self.message_framing)

    @cached_property
    def sqlite_path(self) -> Path:
        return self.data_dir / "retain.db"

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL if set, else the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path}"

    @property
    def uses_embedded_broker(self) -> bool:
        return not self.kafka_url

    @property
    def is_development(self) -> bool:
        """True only for ``RETAIN_ENVIRONMENT=development``; any other value gets production's checks."""
        return self.environment == "development"


# Outside development every secret must be set, not a development default, and long enough that
# guessing it is hopeless (32 characters: ``openssl rand -hex 16``).
MIN_SECRET_CHARS = 32
DEVELOPMENT_DEFAULT_PREFIX = "development-"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "[::1]")


class ProductionSettingsError(ValueError):
    """Settings a service must not start with outside development; the message names each variable."""


def development_default_secrets(settings: Settings) -> list[str]:
    """Names of the signing secrets that still hold their public development default."""
    return [name for name in ("unsubscribe_secret", "contact_hash_key")
            if getattr(settings, name).get_secret_value().startswith(DEVELOPMENT_DEFAULT_PREFIX)]


def _secret_problem(variable: str, secret: SecretStr | None, why: str) -> str | None:
    if secret is None or not secret.get_secret_value():
        return f"set {variable}: {why}"
    value = secret.get_secret_value()
    if value.startswith(DEVELOPMENT_DEFAULT_PREFIX):
        return f"set {variable}: its development default is public"
    if len(value) < MIN_SECRET_CHARS:
        return f"{variable} must be at least {MIN_SECRET_CHARS} characters"
    return None


def production_problems(settings: Settings) -> list[str]:
    """Why these settings must not serve outside development (empty in development or when all is set).

    The ingest credential may also live in the database (``retain producers create``); the service
    checks that once it has a database (``retain.producers.service.require_ingest_credential``).
    """
    if settings.is_development:
        return []
    problems = [
        _secret_problem("RETAIN_UNSUBSCRIBE_SECRET", settings.unsubscribe_secret,
                        "it signs the unsubscribe and preference links"),
        _secret_problem("RETAIN_CONTACT_HASH_KEY", settings.contact_hash_key,
                        "it keys the hashes of e-mail addresses and phone numbers"),
        _secret_problem("RETAIN_METRICS_TOKEN", settings.metrics_token,
                        "/metrics is served only to scrapers that send it as a bearer token"),
    ]
    if settings.ingest_token is not None:
        problems.append(_secret_problem("RETAIN_INGEST_TOKEN", settings.ingest_token, ""))
    if settings.inbound_email_secret is not None:
        problems.append(_secret_problem("RETAIN_INBOUND_EMAIL_SECRET", settings.inbound_email_secret, ""))
    if settings.support_webhook_url:
        problems.append(_secret_problem("RETAIN_SUPPORT_WEBHOOK_SECRET", settings.support_webhook_secret,
                                        "it signs the helpdesk hand-off of customers' replies"))
    if settings.sendgrid_api_key is not None and not settings.sendgrid_webhook_public_key:
        problems.append("set RETAIN_SENDGRID_WEBHOOK_PUBLIC_KEY: without it SendGrid's bounce, unsubscribe and "
                        "spam-report events are refused, and those opt-outs are lost")
    if settings.ops_webhook_url:
        problems.append(_secret_problem("RETAIN_OPS_WEBHOOK_SECRET", settings.ops_webhook_secret,
                                        "it signs the notices of paused rules posted to RETAIN_OPS_WEBHOOK_URL"))
    if settings.twilio_account_sid and settings.twilio_auth_token is None:
        problems.append("set RETAIN_TWILIO_AUTH_TOKEN: without it inbound STOP replies cannot be verified")
    if any(f"//{host}" in settings.public_base_url for host in LOCAL_HOSTS):
        problems.append(f"set RETAIN_PUBLIC_BASE_URL: {settings.public_base_url} is the development default, "
                        "and unsubscribe links in messages would point at it")
    return [problem for problem in problems if problem]


def require_production_settings(settings: Settings) -> None:
    """Raise ``ProductionSettingsError`` listing every problem ``production_problems`` finds."""
    problems = production_problems(settings)
    if problems:
        raise ProductionSettingsError(
            f"RETAIN_ENVIRONMENT={settings.environment} (not development) refuses to start: " + "; ".join(problems))


def get_settings() -> Settings:
    """Build settings from the environment (call once per entry point)."""
    return Settings()
