"""Building the outreach parts from their settings slices: the sender, development webhook keys.

``build_sender`` gives the sender its channels, rate limits and config, and the drafting
``Composer`` its ``rule_for`` lookup of the rules in force (``rule_for_rulebook`` over the
worker's live ``RuleBook`` when the runtime has one, else ``rule_for_rules_dir`` over the rules
folder, re-read when its files change). What a message says comes from the decision's snapshot.

Webhook signing keys for the demo: the sink stands in for SendGrid and Twilio, and the demo's
simulated customers call the same signed webhooks the providers call. In ``environment ==
"development"`` a missing Twilio auth token and SendGrid verification key are generated once per
data dir (``<data_dir>/webhook-keys/``, owner-only files) so ``retain demo`` needs no
configuration; any other environment refuses to generate them.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy import Engine

from infra.private_files import open_private, private_dir
from infra.settings import LlmSettings, MessageFramingSettings, OutboxSettings, ProviderSettings, Settings
from outreach.channels.base import Channel
from outreach.channels.from_settings import build_channels, build_limiters
from outreach.drafting.compose import Composer
from outreach.outbox.sender import Sender, SenderConfig
from triggers.reload import RuleReloader
from triggers.rule import Rule
from triggers.ruleset import RuleBook

KEYS_DIR = "webhook-keys"
TWILIO_TOKEN_FILE = "twilio_auth_token"
SENDGRID_KEY_FILE = "sendgrid_webhook_key.pem"


def rule_for_rulebook(rulebook: RuleBook) -> Callable[[str], Rule | None]:
    """``rule_for`` over a live rule book (the worker reloads it; a lookup is one reference read)."""
    return lambda rule_id: rulebook.current.get(rule_id)


def rule_for_rules_dir(path: str | Path, *, check_seconds: float = 2.0) -> Callable[[str], Rule | None]:
    """``rule_for`` over a rules folder, re-read at most every ``check_seconds`` when its files change."""
    rulebook = RuleBook()
    reloader = RuleReloader(rulebook, path)
    reloader.prime()
    last = [time.monotonic()]

    def rule_for(rule_id: str) -> Rule | None:
        if time.monotonic() - last[0] >= check_seconds:
            last[0] = time.monotonic()
            reloader.check()  # no engine: nothing audited here, the worker audits rule changes
        return rulebook.current.get(rule_id)

    return rule_for


def build_sender(
    engine: Engine, *, outbox: OutboxSettings, providers: ProviderSettings, llm: LlmSettings,
    framing: MessageFramingSettings, rule_for: Callable[[str], Rule | None], channels: dict[str, Channel] | None = None,
) -> Sender:
    """A sender with the configured channels (sinks by default), rate limits and composer."""
    return Sender(engine, channels=channels if channels is not None else build_channels(providers, engine=engine),
                  compose=Composer.from_settings(llm, framing, rule_for=rule_for),
                  config=SenderConfig.from_settings(outbox), limiters=build_limiters(providers))


@dataclass(frozen=True)
class WebhookSigningKeys:
    """The secrets that sign webhooks the way the providers would (only the demo holds them)."""

    twilio_auth_token: str | None = None
    sendgrid_private_key: ec.EllipticCurvePrivateKey | None = None

    def sign_twilio(self, url: str, form: dict[str, str]) -> str:
        """``X-Twilio-Signature`` for a form POST to ``url``."""
        from twilio.request_validator import RequestValidator

        if self.twilio_auth_token is None:
            raise RuntimeError("no Twilio auth token to sign with")
        return RequestValidator(self.twilio_auth_token).compute_signature(url, form)

    def sign_sendgrid(self, payload: str, timestamp: str) -> str:
        """``X-Twilio-Email-Event-Webhook-Signature``: base64 ECDSA-SHA256 over timestamp + payload."""
        if self.sendgrid_private_key is None:
            raise RuntimeError("no SendGrid webhook key to sign with")
        signature = self.sendgrid_private_key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()


def _write_private(path: Path, data: bytes) -> None:
    private_dir(path.parent)
    with open_private(path, "xb") as handle:  # owner-only from the start; "x": only if nobody made it first
        handle.write(data)


def _load_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    if not path.exists():
        try:
            _write_private(path, make())
        except FileExistsError:  # another process of the same data dir made it first: use theirs
            pass
    return path.read_bytes()


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key in SendGrid's format: base64 of the DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def development_webhook_keys(settings: Settings) -> tuple[Settings, WebhookSigningKeys]:
    """Settings with generated webhook keys where none are set, and the signing side of them.

    Only in development: anywhere else the real providers' keys must be configured, and a
    generated key would accept requests nobody but this process can sign.
    """
    if settings.environment != "development":
        raise ValueError("webhook keys are generated in development only; set RETAIN_TWILIO_AUTH_TOKEN and "
                         "RETAIN_SENDGRID_WEBHOOK_PUBLIC_KEY")
    folder = Path(settings.data_dir) / KEYS_DIR
    updates: dict[str, Any] = {}
    token, private = None, None
    if settings.twilio_auth_token is None:
        token = _load_or_create(folder / TWILIO_TOKEN_FILE, lambda: secrets.token_hex(16).encode()).decode().strip()
        updates["twilio_auth_token"] = SecretStr(token)
    if not settings.sendgrid_webhook_public_key:
        pem = _load_or_create(folder / SENDGRID_KEY_FILE, lambda: ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        loaded = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        private = loaded
        updates["sendgrid_webhook_public_key"] = public_key_b64(private)
    return settings.model_copy(update=updates), WebhookSigningKeys(twilio_auth_token=token, sendgrid_private_key=private)


def with_webhook_keys(settings: Settings) -> tuple[Settings, WebhookSigningKeys]:
    """``development_webhook_keys`` in development; elsewhere the settings unchanged and no keys."""
    if settings.environment != "development":
        return settings, WebhookSigningKeys()
    return development_webhook_keys(settings)
