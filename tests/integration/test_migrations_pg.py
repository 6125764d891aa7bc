"""The migrations build exactly the tables the code declares, on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import hub.store.models  # noqa: F401  (registers the hub's tables)
import security.audit_tables  # noqa: F401
import security.people_tables  # noqa: F401
from core.tables import Base
from hub.store.db import Database
from hub.store.migrate import upgrade

pytestmark = pytest.mark.integration

def test_migrated_postgresql_schema_matches_the_models(pg_url: str) -> None:
    db = Database(pg_url)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
