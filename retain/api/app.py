"""Building the FastAPI application from settings and the adapters it talks to.

``create_app`` only wires: the publisher (and optional engine) are built and owned by the entry
point, which starts and stops them. Other packages add their routers through ``routers=`` or
``app.include_router`` afterwards; handlers read their dependencies from ``app.state``.

Outside development the app refuses to be built without its secrets and an ingest credential
(``infra.settings.production_problems``, ``retain.producers.service.require_ingest_credential``),
serves no API docs (the console serves them to logged-in users), and ``/metrics`` answers only
scrapers that send ``RETAIN_METRICS_TOKEN``.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from sqlalchemy import Engine

import retain
from infra.request_body import BodyLimit, body_cap
from infra.settings import Settings, require_production_settings
from retain.api import health, ingest, metrics
from retain.api.ingest_auth import VerifiedCredentials, secret_from_header
from retain.api.security_headers import SecurityHeaders
from retain.producers.service import require_ingest_credential
from signals.publisher import EventPublisher, KafkaEventPublisher

DOCS_ROUTES = {"docs_url": "/docs", "redoc_url": "/redoc", "openapi_url": "/openapi.json"}


def metrics_access(request: Request) -> None:
    """Dependency of ``/metrics``: the metrics token as a bearer token; required outside development."""
    settings: Settings = request.app.state.settings
    token = settings.metrics_token
    if token is None and settings.is_development:
        return
    sent = secret_from_header(request.headers.get("authorization", "")) or ""
    # Without a configured token nothing matches (the app refuses to start that way outside development).
    if token is None or not hmac.compare_digest(sent.encode(), token.get_secret_value().encode()):
        raise HTTPException(401, "send RETAIN_METRICS_TOKEN as 'Authorization: Bearer ...'",
                            headers={"WWW-Authenticate": "Bearer"})


def create_app(
    settings: Settings,
    *,
    publisher: EventPublisher,
    engine: Engine | None = None,
    routers: Sequence[APIRouter] = (),
    **fastapi_options: Any,
) -> FastAPI:
    """The API with ingest, schema, health and metrics routes, plus any extra ``routers``.

    Request bodies are capped while they stream in (``infra.request_body``): ingest at
    ``ingest_max_body_bytes``, routes with their own ``body_cap`` at theirs, all else at
    ``max_request_body_bytes``. Every response gets the security headers of its path.
    Raises ``ProductionSettingsError`` outside development when a secret or the ingest credential is missing.
    """
    require_production_settings(settings)
    require_ingest_credential(settings, engine)
    for option, path in DOCS_ROUTES.items():
        fastapi_options.setdefault(option, path if settings.is_development else None)
    app = FastAPI(title="retain", version=retain.__version__, **fastapi_options)
    app.add_middleware(BodyLimit, default=settings.max_request_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.engine = engine
    app.state.verified_credentials = VerifiedCredentials(settings.ingest_credential_cache_seconds)
    app.include_router(ingest.router, dependencies=[Depends(body_cap(settings.ingest_max_body_bytes))])
    app.include_router(health.router)
    app.include_router(metrics.router, dependencies=[Depends(metrics_access)])
    for router in routers:
        app.include_router(router)
    return app


def kafka_publisher(settings: Settings, bootstrap: str, *, topic: str = "events") -> KafkaEventPublisher:
    """The publisher the ingest API uses in production: acks=all, bounded by publish_timeout_seconds.

    An external Kafka gets idempotent writes when it allows them; the embedded Tansu broker
    refuses them (measured), so it is not even asked.
    """
    return KafkaEventPublisher(
        bootstrap,
        topic,
        timeout=settings.publish_timeout_seconds,
        enable_idempotence=False if settings.uses_embedded_broker else None,
        max_record_bytes=settings.ingest_max_event_bytes,
    )
