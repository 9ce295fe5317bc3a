"""How the sender behaves: secrets, retries, leases, waits and how many provider calls overlap."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from infra.settings import OutboxSettings, development_default_secrets


@dataclass(frozen=True)
class SenderConfig:
    """How the sender behaves; ``from_settings`` reads it from the outbox settings."""

    unsubscribe_secret: bytes
    contact_hash_key: bytes
    public_base_url: str = "http://127.0.0.1:8000"
    max_attempts: int = 5
    lease: dt.timedelta = dt.timedelta(seconds=120)
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    marketing_email_requires_opt_in: bool = False
    customer_wait: dt.timedelta = dt.timedelta(days=1)  # how long a row without expiry waits for its customer
    transient_retry: dt.timedelta = dt.timedelta(seconds=5)  # a row hit by a database error is due again after
    escalation_pause: dt.timedelta = dt.timedelta(hours=72)  # after a complaint, only a person's answers go out
    concurrency: int = 8  # provider calls in flight at once per pass (database writes stay in one thread)

    @property
    def chunk(self) -> int:
        """Rows checked, drafted and committed as ``sending`` in one transaction: two pool-fuls.

        Enough to keep every provider call slot busy while the next chunk is written; small enough
        that few rows wait as ``sending`` for their call (a crash sends those to ``reconcile``).
        """
        return max(2, 2 * self.concurrency)

    @classmethod
    def from_settings(cls, settings: OutboxSettings) -> "SenderConfig":
        """The config the settings describe; refuses the development secrets outside development."""
        placeholders = development_default_secrets(settings)
        if placeholders and settings.environment != "development":
            raise ValueError(f"set RETAIN_{placeholders[0].upper()} (the development default is public)")
        return cls(
            unsubscribe_secret=settings.unsubscribe_secret.get_secret_value().encode(),
            contact_hash_key=settings.contact_hash_key.get_secret_value().encode(),
            public_base_url=settings.public_base_url,
            max_attempts=settings.outbox_max_attempts,
            lease=dt.timedelta(seconds=settings.outbox_lease_seconds),
            marketing_email_requires_opt_in=settings.marketing_email_requires_opt_in,
            escalation_pause=dt.timedelta(hours=settings.escalation_pause_hours),
            concurrency=settings.outbox_send_concurrency,
        )
