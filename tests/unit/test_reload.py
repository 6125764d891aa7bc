"""Reloading the routing snapshot: work in progress keeps the snapshot it started with, a bad
file changes nothing and is said once, a new push system gets its adapter and its egress
destination, and an attempt refused under a directory replaced meanwhile is retried."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.errors import DeliveryRejected
from core.settings import Settings
from hub.context import HubContext
from hub.reload import ADMIN, WATCH, NotReloadable, ReloadRefused
from hub.routing_config import RoutingConfig
from hub.store.models import Delivery
from security.audit_tables import AuditEvent
from security.egress import Egress
from security.egress_policy import Origin
from tests.support import key_hash, write_directory
from tests.unit.memory_hub import RECIPIENT, SENDER, memory_hub, submit

NEW = "000.00.07.H57"


def data() -> dict[str, Any]:
    return {
        "organizations": [{"code": SENDER, "name": "Tỉnh", "level": "province"},
                          {"code": RECIPIENT, "name": "Sở", "level": "department"}],
        "systems": [
            {"id": "tinh", "organizations": [SENDER], "api_key_hashes": [key_hash("k")]},
            {"id": "so", "organizations": [RECIPIENT],
             "receive": {"mode": "push", "adapter": "memory", "url": "http://so.invalid/in"}}]}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[HubContext, Path, MemoryAdapter]]:
    file = tmp_path / "directory.yaml"
    write_directory(file, data())
    adapter = MemoryAdapter()
    registry = AdapterRegistry(Egress(), factories={"memory": lambda egress: adapter})
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False,
                        directory_file=file, directory_watch_interval_s=0)
    ctx = HubContext.build(settings, adapters=registry)
    try:
        yield ctx, file, adapter
    finally:
        ctx.close()


def events(ctx: HubContext, prefix: str = "directory.") -> list[tuple[str, str]]:
    with ctx.db.reading() as session:
        return [(e.event, e.actor) for e in session.execute(
            select(AuditEvent).where(AuditEvent.event.startswith(prefix))
            .order_by(AuditEvent.seq)).scalars()]


def test_work_in_progress_keeps_its_snapshot_and_new_work_gets_the_new_one(
    hub: tuple[HubContext, Path, MemoryAdapter]
) -> None:
    ctx, file, _ = hub
    reloader = ctx.reloader
    assert reloader is not None
    changed = data()
    changed["organizations"].append({"code": NEW, "name": "Sở mới", "level": "department"})
    with ctx.routing.pinned() as started:
        write_directory(file, changed)
        report = reloader.reload(ADMIN, "person:an")
        assert report.status == "reloaded"
        assert ctx.routing.current() is started and not ctx.directory.knows(NEW)
        assert ctx.routing.latest().directory.knows(NEW)
    assert ctx.directory.knows(NEW)
    assert report.changes.as_dict() == {"organizations": {"added": 1, "removed": 0,
                                                          "changed": 0},
                                        "systems": {"added": 0, "removed": 0, "changed": 0}}
    assert events(ctx) == [("directory.reloaded", "person:an")]


def test_a_bad_file_changes_nothing_and_the_watch_says_so_once(
    hub: tuple[HubContext, Path, MemoryAdapter]
) -> None:
    ctx, file, _ = hub
    reloader = ctx.reloader
    assert reloader is not None
    before = ctx.routing.latest()
    broken = data()
    broken["systems"][1]["receive"]["adapter"] = "carrier-pigeon"  # nothing provides it
    write_directory(file, broken)
    assert reloader.check_file() is None
    file.touch()  # the watch looks again at the same bad contents
    assert reloader.check_file() is None
    assert ctx.routing.latest() is before
    assert events(ctx) == [("directory.reload_failed", "hub")]
    with pytest.raises(ReloadRefused, match="carrier-pigeon"):
        reloader.reload(ADMIN, "person:an")  # asked for: answered and audited again
    assert events(ctx)[-1] == ("directory.reload_failed", "person:an")


def test_a_new_push_system_gets_its_adapter_and_its_destination(tmp_path: Path) -> None:
    file = tmp_path / "directory.yaml"
    first = data()
    first["systems"] = first["systems"][:1]  # no push system yet: no adapter built
    first["systems"][0]["organizations"] = [SENDER, RECIPIENT]
    write_directory(file, first)
    built: list[str] = []

    def build(_egress: Egress) -> MemoryAdapter:
        built.append("memory")
        return MemoryAdapter()

    registry = AdapterRegistry(Egress(), factories={"memory": build})
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False,
                        directory_file=file, directory_watch_interval_s=0)
    ctx = HubContext.build(settings, adapters=registry)
    try:
        assert built == []
        assert not ctx.egress.policy.origins("so")
        write_directory(file, data())
        assert ctx.reloader is not None and ctx.reloader.reload(WATCH).status == "reloaded"
        assert built == ["memory"]
        assert ctx.egress.policy.origins("so") == {Origin.of("http://so.invalid/in")}
    finally:
        ctx.close()


def test_a_directory_given_in_memory_is_not_reloaded(tmp_path: Path) -> None:
    ctx = memory_hub(tmp_path, MemoryAdapter())
    try:
        assert ctx.reloader is not None
        with pytest.raises(NotReloadable):
            ctx.reloader.reload(ADMIN)
    finally:
        ctx.close()


def test_a_refusal_under_a_directory_replaced_meanwhile_is_retried_not_dead(
    tmp_path: Path
) -> None:
    holder: dict[str, HubContext] = {}

    def refused_while_reloading() -> Exception:
        ctx = holder["ctx"]
        ctx.routing.swap(RoutingConfig(copy.copy(ctx.routing.latest().directory)))
        return DeliveryRejected("egress_not_registered: the old address")

    ctx = memory_hub(tmp_path, MemoryAdapter(fail_first=2, error=refused_while_reloading))
    holder["ctx"] = ctx
    ctx.deliverer.schedule = lambda ids, prio, delay: None
    try:
        d = submit(ctx)
        assert ctx.deliverer.run(d).state == "retrying"
        # the same refusal with no reload in between is the receiver's verdict
        ctx.routing.swap(ctx.routing.latest())
        adapter_error = DeliveryRejected("HTTP 400")
        ctx.adapters.register("memory", MemoryAdapter(fail_first=1, error=lambda: adapter_error))
        with ctx.db.transaction() as session:  # due now
            session.execute(update(Delivery).values(next_attempt_at=None))
        assert ctx.deliverer.run(d).state == "dead"
    finally:
        ctx.close()
