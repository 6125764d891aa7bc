"""Settings: embedded by default, YAML, LIENTHONG_* over it, unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import load_settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIENTHONG_DATABASE_URL", "LIENTHONG_REDIS_URL", "LIENTHONG_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.embedded and s.embedded_worker
    assert s.database_url.startswith("sqlite:///./var/")


def test_yaml_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(
        "database_url: postgresql+psycopg://db/lienthong\n"
        "redis_url: redis://redis:6379/0\n"
        "delivery:\n  max_attempts: 12\n  worker_threads: 4\n", encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_DELIVERY__WORKER_THREADS", "16")
    s = load_settings(config)
    assert not s.embedded and not s.embedded_worker
    assert s.delivery.max_attempts == 12
    assert s.delivery.worker_threads == 16  # the variable wins over the file


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("databse_url: sqlite:///x.db\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="databse_url"):
        load_settings(config)
