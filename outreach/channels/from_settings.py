"""The channels and rate limits the provider settings describe: providers when configured, else the sink.

Given the database, the sinks keep their ledger there (``SqlSinkLedger``), so what they took
survives a restart; without one (tools, unit tests) they remember in memory.
"""

from __future__ import annotations

from sqlalchemy import Engine

from infra.settings import ProviderSettings
from outreach.channels.base import Channel
from outreach.channels.rate_limit import TokenBucket
from outreach.channels.sendgrid import SendGridChannel
from outreach.channels.sink import SinkChannel, SqlSinkLedger
from outreach.channels.twilio import TwilioChannel


def build_channels(settings: ProviderSettings, *, engine: Engine | None = None) -> dict[str, Channel]:
    """``email`` on SendGrid when an API key is set, ``sms`` on Twilio when sid and token are; else sinks."""
    ledger = SqlSinkLedger(engine) if engine is not None else None
    channels: dict[str, Channel] = {"email": SinkChannel("email", ledger), "sms": SinkChannel("sms", ledger)}
    if settings.sendgrid_api_key is not None:
        channels["email"] = SendGridChannel(
            settings.sendgrid_api_key.get_secret_value(), from_email=settings.sendgrid_from_email,
            from_name=settings.sender_name, asm_group_id=settings.sendgrid_marketing_asm_group_id,
            host=settings.sendgrid_host, timeout=settings.provider_timeout_seconds,
        )
    if settings.twilio_account_sid and settings.twilio_auth_token is not None:
        channels["sms"] = TwilioChannel(
            settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
            messaging_service_sid=settings.twilio_messaging_service_sid, from_number=settings.twilio_from_number,
            validity_period=settings.sms_validity_period_seconds, base_url=settings.twilio_base_url,
            timeout=settings.provider_timeout_seconds,
        )
    return channels


def build_limiters(settings: ProviderSettings) -> dict[str, TokenBucket]:
    """One token bucket per channel at the configured rate (burst of one second's worth)."""
    return {"email": TokenBucket(settings.email_rate_per_second), "sms": TokenBucket(settings.sms_rate_per_second)}
