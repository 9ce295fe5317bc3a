"""The channels and rate limits the settings describe: providers when configured, else the sink."""

from __future__ import annotations

from typing import Any

from outreach.channels.base import Channel
from outreach.channels.rate_limit import TokenBucket
from outreach.channels.sendgrid import SendGridChannel
from outreach.channels.sink import SinkChannel
from outreach.channels.twilio import TwilioChannel
from outreach.conversations.thread_links import OutboundThreading


def build_channels(settings: Any) -> dict[str, Channel]:
    """``email`` on SendGrid when an API key is set, ``sms`` on Twilio when sid and token are; else sinks."""
    channels: dict[str, Channel] = {"email": SinkChannel("email"), "sms": SinkChannel("sms")}
    if settings.sendgrid_api_key is not None:
        channels["email"] = SendGridChannel(
            settings.sendgrid_api_key.get_secret_value(), from_email=settings.sendgrid_from_email,
            from_name=settings.sender_name, asm_group_id=settings.sendgrid_marketing_asm_group_id,
            host=settings.sendgrid_host, timeout=settings.provider_timeout_seconds,
            threading=OutboundThreading.from_settings(settings),
        )
    if settings.twilio_account_sid and settings.twilio_auth_token is not None:
        channels["sms"] = TwilioChannel(
            settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
            messaging_service_sid=settings.twilio_messaging_service_sid, from_number=settings.twilio_from_number,
            validity_period=settings.sms_validity_period_seconds, base_url=settings.twilio_base_url,
            timeout=settings.provider_timeout_seconds,
        )
    return channels


def build_limiters(settings: Any) -> dict[str, TokenBucket]:
    """One token bucket per channel at the configured rate (burst of one second's worth)."""
    return {"email": TokenBucket(settings.email_rate_per_second), "sms": TokenBucket(settings.sms_rate_per_second)}
