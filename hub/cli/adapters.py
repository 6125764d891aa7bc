"""`lienthong adapters`: the delivery adapters and the systems using each."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer(help="Delivery adapters", no_args_is_help=True)


@app.command("list")
def adapters_list(config: ConfigOpt = None) -> None:
    """Installed and configured adapters, and where each came from."""
    from adapters.registry import builtin_factories
    from routing.directory import Directory

    settings = settings_from(config)
    directory = Directory.from_file(settings.directory_file)
    used: dict[str, list[str]] = {}
    for s in directory.systems():
        if s.receive.mode == "push":
            used.setdefault(s.receive.adapter, []).append(s.id)
    table = Table("adapter", "provided by", "used by")
    for name, factory in sorted(builtin_factories().items()):
        table.add_row(name, f"lienthong (built in: {factory.__module__})",
                      ", ".join(used.get(name, [])) or "-")
    table.add_row("inbox", "lienthong (pull mode)", ", ".join(
        s.id for s in directory.systems() if s.receive.mode == "pull") or "-")
    console.print(table)
