"""`lienthong atrest`: protection at rest: a new key, which keys seal the stored rows, rotation."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Column, Table

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer(help="Protection at rest: stored packages sealed with AES-256-GCM",
                  no_args_is_help=True)
# what a person reads goes to stderr, so `KEY=$(lienthong atrest keygen)` captures the key alone
notes = Console(stderr=True, soft_wrap=True)


@app.command("keygen")
def atrest_keygen() -> None:
    """Print a fresh key (base64 of 32 random bytes) for LIENTHONG_ATREST_KEY."""
    import base64
    import secrets

    from security.atrest import key_id

    key = secrets.token_bytes(32)
    notes.print(f"new key {key_id(key)}: keep it out of the database's backups, and keep a "
                "copy for as long as any backup sealed with it is kept")
    typer.echo(base64.b64encode(key).decode("ascii"))


@app.command("status")
def atrest_status(config: ConfigOpt = None) -> None:
    """Stored packages per key id, and plaintext ones; which keys this environment holds."""
    from hub.store.db import Database
    from hub.store.raw import PLAINTEXT, census
    from security.atrest import Sealer

    settings = settings_from(config)
    sealer = Sealer.from_settings(settings.atrest)
    db = Database(settings.database_url)
    try:
        counts = census(db)
    finally:
        db.dispose()
    state = (f"on, sealing under key {sealer.key_id}" if sealer.sealing
             else "off: new packages are stored plaintext")
    console.print(f"protection at rest {state}")
    table = Table(Column("sealed under", no_wrap=True), Column("packages", justify="right"),
                  Column("readable here"))
    for name, count in sorted(counts.items(), key=lambda kv: (kv[0] == PLAINTEXT, kv[0])):
        if name == PLAINTEXT:
            readable = "yes (plaintext)"
        elif name == sealer.key_id:
            readable = "yes (current key)"
        else:
            readable = "yes (old key)" if sealer.knows(name) else "[red]no: key unknown[/red]"
        table.add_row(name, str(count), readable)
    console.print(table)


@app.command("rotate")
def atrest_rotate(
    config: ConfigOpt = None,
    batch: int = typer.Option(500, "--batch", min=1, max=100_000,
                              help="packages re-sealed per transaction"),
) -> None:
    """Re-seal every stored package not under the current key (plaintext ones included).

    Resumable: each batch commits on its own; run it again to finish an interrupted run.
    Exits 1 if some packages could not be opened (they are listed and left as they are).
    """
    from core.errors import HubError
    from hub.cli.users import cli_actor
    from hub.store.db import Database
    from hub.store.migrate import upgrade
    from hub.store.raw import Rotation, rotate
    from security.atrest import Sealer

    settings = settings_from(config)
    sealer = Sealer.from_settings(settings.atrest)

    def show(report: Rotation) -> None:
        console.print(f"re-sealed {report.done}/{report.pending} "
                      f"({report.rotated} from older keys, {report.encrypted} from plaintext, "
                      f"{len(report.failed)} failed)")

    db = Database(settings.database_url)
    try:
        upgrade(db.engine)
        report = rotate(db, sealer, batch=batch, actor=cli_actor(), progress=show)
    except HubError as exc:
        notes.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    for message_id, code in report.failed:
        notes.print(f"[red]{code}[/red]: message {message_id}")
    console.print(f"every readable package is sealed under key {report.key_id}: "
                  f"{report.rotated} re-sealed from older keys, {report.encrypted} sealed from "
                  f"plaintext, {len(report.failed)} left as they were")
    if report.failed:
        raise typer.Exit(1)
