"""Every outreach router, for ``create_app(routers=...)``."""

from __future__ import annotations

from fastapi import APIRouter

from outreach.webhooks import preferences, sendgrid_inbound, sendgrid_webhook, twilio_sms

ROUTERS: tuple[APIRouter, ...] = (twilio_sms.router, sendgrid_webhook.router, sendgrid_inbound.router,
                                   preferences.router)
