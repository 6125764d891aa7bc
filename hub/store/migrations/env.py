"""Alembic environment: runs on the connection the hub hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import hub.store.models  # noqa: F401  (registers the hub's tables)
import security.audit_tables  # noqa: F401  (registers the audit chain's tables)
import security.people_tables  # noqa: F401  (registers people's accounts)
from core.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
