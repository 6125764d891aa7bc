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


def test_the_deadline_calendar_comes_from_yaml_and_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    config = tmp_path / "hub.yaml"
    config.write_text(
        "deadlines:\n  opens: '08:00'\n  closes: '17:30'\n"
        "  holidays: [2026-02-16, 2026-02-17]\n", encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_DEADLINES__EXTRA_WORKING_DAYS", '["2026-05-09"]')
    calendar = load_settings(config).deadlines.calendar()
    assert (calendar.opens, calendar.closes) == (dt.time(8), dt.time(17, 30))
    assert not calendar.is_working_day(dt.date(2026, 2, 17))
    assert calendar.is_working_day(dt.date(2026, 5, 9))  # a Saturday worked
    assert str(dt.datetime(2026, 1, 1, tzinfo=calendar.zone).utcoffset()) == "7:00:00"


@pytest.mark.parametrize(("yaml", "says"), [
    ("deadlines:\n  timezone: Asia/Hue\n", "not a known time zone"),
    ("deadlines:\n  opens: '18:00'\n", "open before they close"),
    ("deadlines:\n  weekdays: [0, 1]\n", "1 .Monday. to 7"),
    ("deadlines:\n  holidays: [30/04/2026]\n", "holidays"),
])
def test_a_calendar_that_cannot_be_is_refused_at_start(tmp_path: Path, yaml: str,
                                                       says: str) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text(yaml, encoding="utf-8")
    with pytest.raises(ValidationError, match=says):
        load_settings(config)
