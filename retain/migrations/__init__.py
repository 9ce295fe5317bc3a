"""Alembic migrations shipped inside the package; run them with ``retain.database.migrate``."""
