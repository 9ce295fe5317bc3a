"""The HTTP API: event ingest (retain envelope and Segment), schema, health and readiness."""

from retain.api.app import create_app, kafka_publisher

__all__ = ["create_app", "kafka_publisher"]
