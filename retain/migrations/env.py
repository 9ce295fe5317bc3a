"""Alembic environment: runs online against the engine that ``infra.database`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from retain.records_registry import include_object, metadata
from infra.database import UtcDateTime

target_metadata = metadata()


def render_item(type_, obj, autogen_context):
    """Render our TypeDecorators as their plain SQL types, so revisions never import app code."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    """Run migrations on the configured engine (or on sqlalchemy.url for the alembic CLI)."""
    config = context.config
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
            render_item=render_item,
            # SQLite cannot ALTER most things; batch mode copies the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run retain.migrations.migrate")
run_migrations_online()
