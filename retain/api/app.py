"""Building the FastAPI application from settings and the adapters it talks to.

``create_app`` only wires: the publisher (and optional engine) are built and owned by the entry
point, which starts and stops them. Other packages add their routers through ``routers=`` or
``app.include_router`` afterwards; handlers read their dependencies from ``app.state``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import Engine

import retain
from retain.api import health, ingest
from retain.api.security_headers import SecurityHeaders
from infra.request_body import BodyLimit, body_cap
from infra.settings import Settings
from signals.publisher import EventPublisher, KafkaEventPublisher


def create_app(
    settings: Settings,
    *,
    publisher: EventPublisher,
    engine: Engine | None = None,
    routers: Sequence[APIRouter] = (),
    **fastapi_options: Any,
) -> FastAPI:
    """The API with ingest, schema and health routes, plus any extra ``routers``.

    Request bodies are capped while they stream in (``infra.request_body``): ingest at
    ``ingest_max_body_bytes``, routes with their own ``body_cap`` at theirs, all else at
    ``max_request_body_bytes``. Every response gets the security headers of its path.
    """
    app = FastAPI(title="retain", version=retain.__version__, **fastapi_options)
    app.add_middleware(BodyLimit, default=settings.max_request_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.engine = engine
    app.include_router(ingest.router, dependencies=[Depends(body_cap(settings.ingest_max_body_bytes))])
    app.include_router(health.router)
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
    )
