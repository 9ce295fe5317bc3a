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
    stream_tick_interval_seconds: float = 1.0

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    ingest_token: SecretStr | None = None
    ingest_max_batch: int = 500  # events per POST; more -> 413
    ingest_max_body_bytes: int = 5_000_000  # request body cap; more -> 413
    publish_timeout_seconds: float = 5.0  # broker must ack a batch within this, else 503

    # Detectors (defaults documented in signals/detectors/*)
    checkout_idle_seconds: float = 90.0
    shipping_eta_margin_hours: float = 12.0
    usage_recent_days: int = 7
    usage_baseline_days: int = 28
    allowed_lateness_seconds: float = 300.0

    # Trigger rules and contact policy (defaults documented in triggers/policy/config.py)
    rules_dir: Path = Path("rules")
    marketing_email_requires_opt_in: bool = False

    # LLM drafting (unset -> template drafter, the demo runs offline)
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    llm_model: str = "gpt-4o-mini"

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
