"""Third-party adapters from the entry-point group `lienthong.adapters`: loaded only when
the directory names them, their options checked at start-up, and a missing or broken one
stopping start-up with a message that says what to install or fix."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from adapters.registry import AdapterRegistry, discover
from core.errors import HubError
from core.settings import Settings
from hub.context import HubContext
from routing.directory import Directory
from security.egress import Egress
from tests.unit.test_adapter_startup import directory

PLUGIN = '''
from pydantic import BaseModel, ConfigDict, Field
from adapters.base import Capabilities, DeliveryResult

LOADED = []

class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder: str
    retries_hint: int = Field(default=1, ge=0)

class DropAdapter:
    name = "drop"
    options = Options
    capabilities = Capabilities(push=True, poll=False, forms=("edxml",))

    def __init__(self, egress):
        LOADED.append(self)

    def deliver(self, delivery):
        return DeliveryResult("dropped")

    def close(self):
        pass
'''


def install(root: Path, dist: str, version: str, entries: dict[str, str],
            module: str | None = None, source: str = "") -> None:
    """A distribution as pip would leave it on sys.path: its metadata and entry points."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(
        "[lienthong.adapters]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))
    if module:
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


def start(tmp_path: Path, d: Directory) -> HubContext:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", embedded_worker=False)
    return HubContext.build(settings, directory=d)


def drop(**options: Any) -> dict[str, Any]:
    return {"mode": "push", "adapter": "drop", "format": "edxml", "options": options}


def test_an_entry_point_adapter_is_found_with_its_distribution(site: Path) -> None:
    install(site, "lienthong-drop", "1.2.3", {"drop": "lt_drop_a:DropAdapter"},
            "lt_drop_a", PLUGIN)
    source = discover()["drop"]
    assert (source.distribution, source.version, source.builtin) == \
        ("lienthong-drop", "1.2.3", False)
    assert discover()["rest"].builtin


def test_a_plugin_is_loaded_only_when_the_directory_names_it(site: Path, tmp_path: Path
                                                             ) -> None:
    install(site, "lienthong-drop", "1.0", {"drop": "lt_drop_b:DropAdapter"},
            "lt_drop_b", PLUGIN)
    ctx = start(tmp_path, directory({"mode": "push", "url": "http://qlvb.invalid/in"}))
    ctx.close()
    import sys
    assert "lt_drop_b" not in sys.modules
    ctx = start(tmp_path, directory(drop(folder="/srv/in")))
    try:
        import lt_drop_b  # type: ignore[import-not-found]
        assert ctx.adapters.get("drop") is lt_drop_b.LOADED[0]
    finally:
        ctx.close()


def test_wrong_options_stop_start_up_naming_system_and_field(site: Path, tmp_path: Path
                                                             ) -> None:
    install(site, "lienthong-drop", "1.0", {"drop": "lt_drop_c:DropAdapter"},
            "lt_drop_c", PLUGIN)
    with pytest.raises(HubError) as info:
        start(tmp_path, directory(drop(retries_hint=-1, colour="red")))
    err = info.value
    assert err.code == "adapter_misconfigured"
    assert "'drop'" in err.detail and "so-1" in err.detail
    paths = sorted(e.path for e in err.errors)
    assert paths == ["receive.options.colour", "receive.options.folder",
                     "receive.options.retries_hint"]
    assert "receive.options.folder" in err.detail and "hệ thống so-1" in err.detail_vi


def test_a_form_the_adapter_does_not_deliver_stops_start_up(site: Path, tmp_path: Path
                                                            ) -> None:
    install(site, "lienthong-drop", "1.0", {"drop": "lt_drop_d:DropAdapter"},
            "lt_drop_d", PLUGIN)
    with pytest.raises(HubError, match=r"'drop'.*so-1.*receive\.format 'json'.*\(edxml\)"):
        start(tmp_path, directory({**drop(folder="/srv"), "format": "json"}))


def test_options_given_to_an_adapter_that_takes_none_are_refused(tmp_path: Path) -> None:
    with pytest.raises(HubError, match=r"'rest'.*so-1.*receive\.options is set \(folder\)"):
        start(tmp_path, directory({"mode": "push", "url": "http://qlvb.invalid/in",
                                   "options": {"folder": "/srv"}}))


def test_a_plugin_that_fails_to_load_names_system_and_distribution(site: Path, tmp_path: Path
                                                                   ) -> None:
    install(site, "lienthong-x400", "0.3", {"x400": "lt_x400_gone:Adapter"})
    with pytest.raises(HubError) as info:
        start(tmp_path, directory({"mode": "push", "adapter": "x400"}))
    err = info.value
    assert err.code == "adapter_failed"
    assert "lienthong-x400 0.3" in err.detail and "so-1" in err.detail
    assert "ModuleNotFoundError" in err.detail and "reinstall or upgrade" in err.detail


def test_a_missing_plugin_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(HubError) as info:
        start(tmp_path, directory({"mode": "push", "adapter": "x500"}))
    assert info.value.code == "adapter_missing"
    assert "so-1" in info.value.detail
    assert "pip install lienthong-x500" in info.value.detail
    assert "lienthong.adapters" in info.value.detail


def test_an_entry_point_never_replaces_a_built_in_adapter(site: Path) -> None:
    install(site, "lienthong-evil", "6.6.6", {"rest": "lt_evil:Adapter"})
    assert discover()["rest"].distribution == "lienthong"


def test_factories_given_replace_discovery() -> None:
    registry = AdapterRegistry(Egress(), factories={})
    assert registry.names() == [] and registry.sources() == {}


def test_adapters_list_shows_source_version_capabilities_and_users(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml
    from typer.testing import CliRunner

    from hub.cli import app

    install(site, "lienthong-drop", "1.2.3", {"drop": "lt_drop_e:DropAdapter"},
            "lt_drop_e", PLUGIN)
    install(site, "lienthong-x400", "0.3", {"x400": "lt_x400_gone:Adapter"})
    file = tmp_path / "directory.yaml"
    file.write_text(yaml.safe_dump({
        "organizations": [{"code": c, "name": "Sở", "level": "department"}
                          for c in ("000.00.02.H57", "000.00.03.H57", "000.00.04.H57")],
        "systems": [
            {"id": "so-drop", "organizations": ["000.00.02.H57"], "receive": drop(folder="/x")},
            {"id": "so-old", "organizations": ["000.00.03.H57"],
             "receive": {"mode": "push", "adapter": "fax"}},
            {"id": "so-pull", "organizations": ["000.00.04.H57"], "receive": {"mode": "pull"}},
        ]}))
    monkeypatch.setenv("LIENTHONG_DIRECTORY_FILE", str(file))
    monkeypatch.setenv("COLUMNS", "300")
    # so-drop's circuit breaker is open (hub/delivery/breaker.py)
    import datetime as dt

    from hub.delivery.breaker import Breaker
    from hub.store.db import Database
    from hub.store.migrate import upgrade
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", url)
    db = Database(url)
    upgrade(db.engine)
    breaker = Breaker(db, Settings().delivery)
    now = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    for _ in range(Settings().delivery.breaker_failures):
        breaker.failed("so-drop", now, "connection refused")
    db.dispose()
    result = CliRunner().invoke(app, ["adapters", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in result.output.splitlines() if line.count("│") >= 6}
    assert rows["drop"] == ["1.2.3", "lienthong-drop (lt_drop_e:DropAdapter)",
                            "push (edxml)", "so-drop", "so-drop open until 2026-12-01 09:31:00Z"]
    assert rows["rest"][1:] == ["lienthong (built in)", "push (json, edxml)", "-", "-"]
    assert rows["x400"][1].startswith("lienthong-x400") and "cannot load" in rows["x400"][2]
    assert rows["fax"][1:] == ["not installed", "-", "so-old", "ok"]
    assert rows["inbox"][-2] == "so-pull"
