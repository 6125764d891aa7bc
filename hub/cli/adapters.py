"""`lienthong adapters`: the delivery adapters and the systems using each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, console, settings_from

if TYPE_CHECKING:
    from hub.delivery.breaker import Health

app = typer.Typer(help="Delivery adapters", no_args_is_help=True)


@app.command("list")
def adapters_list(config: ConfigOpt = None) -> None:
    """Installed and configured adapters: built in, or from the entry-point group
    `lienthong.adapters`; their distribution, version, capabilities and users."""
    from adapters.registry import capabilities_of_source, discover
    from core.errors import HubError
    from routing.directory import Directory

    settings = settings_from(config)
    directory = Directory.from_file(settings.directory_file)
    used: dict[str, list[str]] = {}
    for s in directory.systems():
        if s.receive.mode == "push":
            used.setdefault(s.receive.adapter, []).append(s.id)
    health = _health(settings.database_url)
    table = Table("adapter", "version", "distribution", "capabilities", "used by", "health")
    sources = discover()
    for name, source in sorted(sources.items()):
        try:
            caps = capabilities_of_source(source).describe()
        except HubError as exc:
            caps = f"[red]cannot load: {exc.detail}[/red]"
        where = f"{source.distribution} (built in)" if source.builtin \
            else f"{source.distribution} ({source.target})"
        table.add_row(name, source.version, where, caps, ", ".join(used.get(name, [])) or "-",
                      _states(used.get(name, []), health))
    for name in sorted(set(used) - set(sources)):
        table.add_row(name, "-", "[red]not installed[/red]", "-", ", ".join(used[name]),
                      _states(used[name], health))
    pull = [s.id for s in directory.systems() if s.receive.mode == "pull"]
    table.add_row("inbox", "-", "lienthong (built in: pull mode, hub/inbox.py)",
                  "pull (json, edxml)", ", ".join(pull) or "-", "-")
    console.print(table)


def _health(database_url: str) -> dict[str, Health] | None:
    """Every receiving system's circuit breaker; None when the database cannot be read."""
    from sqlalchemy.engine import make_url

    from core.settings import Delivery
    from hub.delivery.breaker import Breaker
    from hub.store.db import Database

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and (
            not url.database or not Path(url.database).exists()):
        return None  # no hub has run here yet: a listing does not create the database
    try:
        db = Database(database_url)
        try:
            return Breaker(db, Delivery()).health()
        finally:
            db.dispose()
    except Exception:  # noqa: BLE001 - the list still shows what is installed
        return None


def _states(systems: list[str], health: dict[str, Health] | None) -> str:
    """`ok`, or each system whose breaker is not closed with its state and retry time."""
    if not systems:
        return "-"
    if health is None:
        return "unknown (no database, or unavailable)"
    bad = [health[s] for s in systems if s in health and health[s].state != "closed"]
    if not bad:
        return "ok"
    return ", ".join(f"[red]{h.system_id} {h.state.replace('_', ' ')}[/red]"
                     + (f" until {h.retry_at:%Y-%m-%d %H:%M:%S}Z" if h.retry_at else "")
                     for h in bad)
