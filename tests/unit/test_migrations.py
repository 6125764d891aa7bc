"""The migrations build exactly the tables the code declares (SQLite; PostgreSQL in
tests/integration/test_migrations_pg.py)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import hub.store.models  # noqa: F401  (registers the hub's tables)
import security.audit_tables  # noqa: F401
import security.people_tables  # noqa: F401
from core.tables import Base
from hub.store.db import Database
from hub.store.migrate import upgrade


def test_migrated_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'schema.db'}")
    upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == [], f"models and migrations differ: {diff}"

