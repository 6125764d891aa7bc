"""Retry schedules: the hub's default spans a day, a system may set its own (validated), and
the worker follows the schedule of the delivery's system."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import update

from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.retry import RetrySchedule, parse_duration
from core.settings import Delivery, Settings
from hub.context import HubContext
from hub.delivery.retry import RetryPolicy
from hub.store.models import Delivery as DeliveryRow
from routing.directory import Directory, DirectoryError
from security.egress import Egress
from tests.support import key_hash
from tests.unit.memory_hub import RECIPIENT, SENDER, submit


@pytest.mark.parametrize(("text", "seconds"), [
    ("250ms", 0.25), ("30s", 30), ("2m", 120), ("1h", 3600), ("1d", 86400), (45, 45),
    ("1.5h", 5400), ("90", 90)])
def test_durations_read_as_people_write_them(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "-1m", "soon", "8d", "", True, "1w"])
def test_nonsense_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_hub_default_spans_a_day() -> None:
    retry = Delivery().retry
    assert retry.max_attempts == 11
    assert retry.total_s() == 24 * 3600
    assert retry.describe() == ("11 attempts, waits [1m, 4m, 10m, 15m, 30m, 1h, 2h, 4h, 8h, "
                                "8h], 1d in all")


def test_the_backoff_settings_still_choose_exponential_backoff() -> None:
    retry = Settings(delivery={"max_attempts": 3, "min_backoff_ms": 50,
                               "max_backoff_ms": 100}).delivery.retry
    assert (retry.max_attempts, retry.min_backoff, retry.max_backoff) == (3, 0.05, 0.1)
    with pytest.raises(ValidationError, match="not both"):
        Settings(delivery={"retry_schedule": ["1m"], "max_attempts": 3})


@pytest.mark.parametrize(("retry", "message"), [
    ({"schedule": ["30s"], "attempts": 3}, "not both"),
    ({}, "give schedule"),
    ({"schedule": []}, "at least one wait"),
    ({"schedule": ["30s", "soon"]}, "not a duration"),
    ({"attempts": 5, "min_backoff": "1h", "max_backoff": "1m"}, "longer than max_backoff"),
    ({"schedule": ["30s"], "jitter": True}, "Extra inputs"),
])
def test_a_systems_schedule_is_validated_with_the_directory(
    tmp_path: Path, retry: dict[str, object], message: str
) -> None:
    data = {"organizations": [{"code": RECIPIENT, "name": "Sở", "level": "department"}],
            "systems": [{"id": "so", "organizations": [RECIPIENT],
                         "receive": {"mode": "push", "url": "http://so.invalid/in",
                                     "retry": retry}}]}
    with pytest.raises(DirectoryError, match=message) as caught:
        Directory.from_bytes(yaml.safe_dump(data).encode(), "directory.yaml")
    assert "receive.retry" in caught.value.detail


def test_scheduled_waits_stay_within_ten_percent() -> None:
    policy = RetryPolicy.from_schedule(RetrySchedule(schedule=(60.0, 3600.0)))
    rng = random.Random(3)
    assert policy.max_attempts == 3
    firsts = [policy.backoff_ms(1, rng) for _ in range(200)]
    lasts = [policy.backoff_ms(2, rng) for _ in range(200)]
    assert 54_000 <= min(firsts) and max(firsts) <= 66_000 and len(set(firsts)) > 50
    assert 3_240_000 <= min(lasts) and max(lasts) <= 3_960_000
    assert [policy.should_retry(n) for n in (1, 2, 3)] == [True, True, False]


def hub_with(tmp_path: Path, adapter: MemoryAdapter, retry: dict[str, object] | None) -> HubContext:
    receive: dict[str, object] = {"mode": "push", "adapter": "memory",
                                  "url": "http://so.invalid/in"}
    if retry is not None:
        receive["retry"] = retry
    directory = Directory.from_dict({
        "organizations": [{"code": SENDER, "name": "Tỉnh", "level": "province"},
                          {"code": RECIPIENT, "name": "Sở", "level": "department"}],
        "systems": [
            {"id": "tinh", "organizations": [SENDER], "api_key_hashes": [key_hash("k")]},
            {"id": "so", "organizations": [RECIPIENT], "receive": receive}]})
    registry = AdapterRegistry(Egress(), factories={})
    registry.register("memory", adapter)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False)
    ctx = HubContext.build(settings, directory=directory, adapters=registry)
    ctx.deliverer.schedule = lambda ids, prio, delay: None  # the test drives the attempts
    return ctx


def test_the_worker_follows_the_systems_own_schedule(tmp_path: Path) -> None:
    ctx = hub_with(tmp_path, MemoryAdapter(fail_first=10), {"schedule": ["7m", "1ms"]})
    try:
        d = submit(ctx)
        first = ctx.deliverer.run(d)
        assert first.state == "retrying" and first.retry_in_ms is not None
        assert 378_000 <= first.retry_in_ms <= 462_000  # 7 min +-10 %, not the hub's 1 min
        with ctx.db.transaction() as session:  # due now
            session.execute(update(DeliveryRow).values(next_attempt_at=None))
        assert ctx.deliverer.run(d).state == "retrying"
        with ctx.db.transaction() as session:
            session.execute(update(DeliveryRow).values(next_attempt_at=None))
        assert ctx.deliverer.run(d).state == "dead"  # 3 attempts: the schedule's 2 waits + 1
    finally:
        ctx.close()


def test_without_its_own_schedule_a_system_gets_the_hubs_day(tmp_path: Path) -> None:
    ctx = hub_with(tmp_path, MemoryAdapter(fail_first=10), None)
    try:
        first = ctx.deliverer.run(submit(ctx))
        assert first.state == "retrying" and first.retry_in_ms is not None
        assert 54_000 <= first.retry_in_ms <= 66_000  # the default's first wait, 1 min
    finally:
        ctx.close()
