"""`lienthong adapters`: the delivery adapters and the systems using each."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, console, settings_from

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
    table = Table("adapter", "version", "distribution", "capabilities", "used by")
    sources = discover()
    for name, source in sorted(sources.items()):
        try:
            caps = capabilities_of_source(source).describe()
        except HubError as exc:
            caps = f"[red]cannot load: {exc.detail}[/red]"
        where = f"{source.distribution} (built in)" if source.builtin \
            else f"{source.distribution} ({source.target})"
        table.add_row(name, source.version, where, caps, ", ".join(used.get(name, [])) or "-")
    for name in sorted(set(used) - set(sources)):
        table.add_row(name, "-", "[red]not installed[/red]", "-", ", ".join(used[name]))
    pull = [s.id for s in directory.systems() if s.receive.mode == "pull"]
    table.add_row("inbox", "-", "lienthong (built in: pull mode, hub/inbox.py)",
                  "pull (json, edxml)", ", ".join(pull) or "-")
    console.print(table)
