"""`lienthong serve`: what it refuses before it starts anything."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.support import said


def test_several_processes_need_production_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIENTHONG_DATABASE_URL", "LIENTHONG_REDIS_URL", "LIENTHONG_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2 and "production mode" in said(result.output)
