"""retain's database schema: the Alembic migrations shipped inside the package, and running them.

``migrate`` runs Alembic's ``upgrade head`` programmatically (no alembic.ini needed), so an
installed ``retain`` can migrate its own database. The schema spans every domain's tables, so it
lives here in the composition root; the domains only define their ``records.py``.
"""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

log = logging.getLogger(__name__)

MIGRATIONS_LOCATION = "retain:migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``engine``."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    # env.py reads the engine from here instead of a URL in an ini file.
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database schema to ``revision`` (default: the newest)."""
    log.info("migrating database %s to %s", engine.url.render_as_string(hide_password=True), revision)
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the schema to ``revision`` (tests and rollbacks)."""
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
