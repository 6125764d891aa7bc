"""`lienthong orgs`: the organisation directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer(help="The organisation directory", no_args_is_help=True)


@app.command("list")
def orgs_list(config: ConfigOpt = None, level: Optional[str] = None) -> None:  # noqa: UP045
    """The organisations and the systems that receive for them."""
    from routing.directory import Directory

    settings = settings_from(config)
    directory = Directory.from_file(settings.directory_file)
    table = Table("code", "name", "level", "parent", "receiving system")
    for org in directory.organizations():
        if level and org.level.value != level:
            continue
        system = directory.receiver_for(org.code)
        table.add_row(org.code, org.name, org.level.value, org.parent or "",
                      f"{system.id} ({system.receive.mode})" if system else "-")
    console.print(table)


@app.command("import")
def orgs_import(
    file: Annotated[Path, typer.Argument(help="CSV, JSON, or the national platform's list")],
    config: ConfigOpt = None,
    level: str = typer.Option("external", help="level for records that carry none"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check and report, write nothing"),
) -> None:
    """Merge organisations into the directory file (validated as a whole first)."""
    from routing.directory import DirectoryError
    from routing.importer import merge

    settings = settings_from(config)
    try:
        report = merge(settings.directory_file, file, default_level=level, dry_run=dry_run)
    except DirectoryError as exc:
        console.print(f"[red]not imported[/red]: {exc}")
        raise typer.Exit(1) from exc
    verb = "would change" if dry_run else "updated"
    console.print(f"{verb} {settings.directory_file}: {len(report.added)} added, "
                  f"{len(report.updated)} updated, {len(report.unchanged)} unchanged")
    if dry_run or not (report.added or report.updated):
        return
    watch = settings.directory_watch_interval_s
    when = (f"within {watch:g} s (they watch the file)" if watch > 0
            else "on SIGHUP or POST /api/v1/admin/reload (the file watch is off)")
    console.print(f"no restart needed: running hub processes reload the directory {when}")
