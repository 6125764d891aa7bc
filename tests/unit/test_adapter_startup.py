"""Adapters are built and checked at start-up: a broken one stops the hub from starting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.base import Adapter
from adapters.memory import MemoryAdapter
from adapters.registry import AdapterRegistry
from core.errors import HubError, PermanentError
from core.settings import Settings
from hub.context import HubContext
from routing.directory import Directory
from security.egress import Egress

ORG_A, ORG_B = "000.00.02.H57", "000.00.03.H57"


def directory(*receives: dict[str, Any]) -> Directory:
    """One push system per `receive`: so-1, so-2..."""
    orgs = [ORG_A, ORG_B][:len(receives)]
    return Directory.from_dict({
        "organizations": [{"code": c, "name": "Sở", "level": "department"} for c in orgs],
        "systems": [{"id": f"so-{n}", "organizations": [org], "receive": receive}
                    for n, (org, receive) in enumerate(zip(orgs, receives, strict=True), 1)]})


def build(tmp_path: Path, directory: Directory, adapters: AdapterRegistry | None = None
          ) -> HubContext:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False)
    return HubContext.build(settings, directory=directory, adapters=adapters)


def test_a_factory_that_raises_stops_start_up_naming_adapter_and_system(tmp_path: Path) -> None:
    def broken(egress: Egress) -> Adapter:
        raise RuntimeError("the client certificate /etc/lgsp/vdxp.pem is unreadable")

    registry = AdapterRegistry(Egress(), factories={"vdxp": broken})
    with pytest.raises(HubError) as info:
        build(tmp_path, directory({"mode": "push", "adapter": "vdxp",
                                   "url": "https://vdxp.invalid/in"}), registry)
    assert info.value.code == "adapter_failed"
    assert "'vdxp'" in info.value.detail and "so-1" in info.value.detail
    assert "vdxp.pem is unreadable" in info.value.detail


def test_a_rest_push_system_without_a_url_stops_start_up(tmp_path: Path) -> None:
    # the adapter defaults to rest: a SOAP receiver that forgot `adapter: soap`
    with pytest.raises(HubError) as info:
        build(tmp_path, directory({"mode": "push",
                                   "soap": {"wsdl": "http://qlvb.invalid/q?wsdl"}}))
    assert info.value.code == "adapter_misconfigured"
    assert "'rest'" in info.value.detail and "so-1" in info.value.detail
    assert "receive.url" in info.value.detail


def test_a_rest_url_that_is_not_http_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(HubError, match=r"'rest'.*so-1.*receive\.url 'ftp://"):
        build(tmp_path, directory({"mode": "push", "url": "ftp://qlvb.invalid/in"}))


def test_a_soap_push_system_without_its_endpoint_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(HubError) as info:
        build(tmp_path, directory({"mode": "push", "adapter": "soap",
                                   "url": "http://qlvb.invalid/soap"}))
    assert info.value.code == "adapter_misconfigured"
    assert "'soap'" in info.value.detail and "so-1" in info.value.detail
    assert "receive.soap" in info.value.detail


def test_a_soap_wsdl_file_that_does_not_exist_stops_start_up(tmp_path: Path) -> None:
    wsdl = tmp_path / "missing.wsdl"
    with pytest.raises(HubError, match=r"'soap'.*so-1.*receive\.soap\.wsdl.*is not a file"):
        build(tmp_path, directory({"mode": "push", "adapter": "soap",
                                   "soap": {"wsdl": str(wsdl)}}))


def test_a_missing_soap_password_names_adapter_system_and_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QLVB_SO_2_PASSWORD", raising=False)
    with pytest.raises(HubError) as info:
        build(tmp_path, directory(
            {"mode": "push", "url": "http://qlvb.invalid/in"},
            {"mode": "push", "adapter": "soap", "soap": {
                "wsdl": "http://qlvb.invalid/q?wsdl", "username": "lgsp",
                "password_env": "QLVB_SO_2_PASSWORD"}}))
    assert info.value.code == "soap_credentials_missing"
    assert "'soap'" in info.value.detail and "so-2" in info.value.detail
    assert "QLVB_SO_2_PASSWORD" in info.value.detail


def test_a_check_that_crashes_stops_start_up(tmp_path: Path) -> None:
    class Fussy(MemoryAdapter):
        def check(self, system_id: str, receive: Any) -> None:
            raise KeyError("timeout_s")

    registry = AdapterRegistry(Egress(), factories={})
    registry.register("fussy", Fussy())
    with pytest.raises(HubError) as info:
        build(tmp_path, directory({"mode": "push", "adapter": "fussy",
                                   "url": "http://qlvb.invalid/in"}), registry)
    assert info.value.code == "adapter_failed"
    assert "'fussy'" in info.value.detail and "so-1" in info.value.detail


def test_adapters_are_built_once_at_start_up_and_only_looked_up_later(tmp_path: Path) -> None:
    built: list[MemoryAdapter] = []

    def factory(egress: Egress) -> Adapter:
        built.append(MemoryAdapter())
        return built[-1]

    registry = AdapterRegistry(Egress(), factories={"memory": factory, "unused": factory})
    ctx = build(tmp_path, directory({"mode": "push", "adapter": "memory",
                                     "url": "http://a.invalid/in"},
                                    {"mode": "push", "adapter": "memory",
                                     "url": "http://b.invalid/in"}), registry)
    try:
        assert len(built) == 1  # before any delivery, once for both systems
        assert ctx.adapters.get("memory") is built[0]
        assert ctx.adapters.get("memory") is built[0]
        assert len(built) == 1
        with pytest.raises(PermanentError) as info:
            ctx.adapters.get("unused")  # no system uses it: never built
        assert info.value.code == "adapter_missing"
    finally:
        ctx.close()


def test_an_adapter_nothing_provides_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(HubError) as info:
        build(tmp_path, directory({"mode": "push", "adapter": "x400",
                                   "url": "http://qlvb.invalid/in"}))
    assert info.value.code == "adapter_missing"
    assert "'x400'" in info.value.detail and "so-1" in info.value.detail
