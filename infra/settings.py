"""One settings object, read from the environment (and an optional ``.env`` file).

Every entry point builds its ``Settings`` once and passes it down; nothing else reads
``os.environ``. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    # Accept both the conventional bare name (KAFKA_URL) and the prefixed one (RETAIN_KAFKA_URL).
    return AliasChoices(name, f"RETAIN_{name}")


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

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    ingest_token: SecretStr | None = None
    ingest_max_batch: int = 500  # events per POST; more -> 413
    ingest_max_body_bytes: int = 5_000_000  # request body cap; more -> 413
    publish_timeout_seconds: float = 5.0  # broker must ack a batch within this, else 503
    # Operator console (retain/console/): sessions, cookies, and the event history console backtests read
    console_session_hours: float = 12.0
    console_cookie_secure: bool = True  # browsers accept Secure cookies on http://127.0.0.1 and localhost too
    backtest_events_path: Path | None = None  # .jsonl or .parquet of past events; unset -> backtests disabled
    metrics_token: SecretStr | None = None  # when set, /metrics wants it as a bearer token

    # Detectors (defaults documented in signals/detectors/*)
    checkout_idle_seconds: float = 90.0
    shipping_eta_margin_hours: float = 12.0
    usage_recent_days: int = 7
    usage_baseline_days: int = 28
    allowed_lateness_seconds: float = 300.0

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
    support_webhook_url: str | None = None  # SMS replies that are neither keywords nor opt-outs
    outbox_max_attempts: int = 5
    outbox_lease_seconds: float = 120.0
    email_rate_per_second: float = 50.0
    sms_rate_per_second: float = 1.0
    reputation_window_days: int = 7
    reputation_min_sends: int = 20
    reputation_max_complaint_rate: float = 0.001  # mailbox providers act at 0.3 %
    reputation_max_opt_out_rate: float = 0.02
    outreach_send_interval_seconds: float = 1.0  # how often the sender job claims due outbox rows
    reputation_check_seconds: float = 60.0  # how often every recently sending rule is re-evaluated

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


def get_settings() -> Settings:
    """Build settings from the environment (call once per entry point)."""
    return Settings()
