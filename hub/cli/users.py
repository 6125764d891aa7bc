"""`lienthong users`: people's accounts (auditors, operators, admins) and their tokens."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table

from core.errors import HubError
from hub.cli.common import ConfigOpt, console, settings_from

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.settings import Settings
    from security.people import Issued

app = typer.Typer(help="People's accounts: auditors, operators, admins", no_args_is_help=True)
# what a person reads goes to stderr, so `TOKEN=$(lienthong users add ...)` captures the token
notes = Console(stderr=True)
T = TypeVar("T")
RoleOpt = typer.Option(..., "--role", help="auditor, operator or admin")
DaysOpt = typer.Option(None, "--expires-days", min=1, max=3650,
                       help="days the token lives (default: people.token_days, 90)")


def cli_actor() -> str:
    """`cli:<os user>`: who ran the command, as the audit trail names them."""
    try:
        import pwd

        name = pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no passwd entry (containers), or not Unix
        try:
            name = getpass.getuser()
        except OSError:
            name = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{name}"[:64]


def _in_transaction(config: Path | None, work: Callable[[Session, Settings], T]) -> T:
    """Run `work(session, settings)` in one transaction on a migrated database; a refusal
    is printed with its code and ends the command with exit status 1."""
    from hub.store.db import Database
    from hub.store.migrate import upgrade

    settings = settings_from(config)
    db = Database(settings.database_url)
    try:
        upgrade(db.engine)
        with db.transaction() as session:
            return work(session, settings)
    except HubError as exc:
        notes.print(f"[red]{exc.code}[/red]: {exc.detail}")
        for err in exc.errors:
            notes.print(f"  {err.path}: {err.message}")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()


def _issued(verb: str, issued: Issued) -> None:
    notes.print(f"{verb} {issued.name} ({issued.role}); token valid until "
                f"{issued.expires_at:%Y-%m-%d %H:%M} UTC. It is shown this once and stored "
                "only as a hash: hand it over now.", soft_wrap=True)
    typer.echo(issued.token)


@app.command("add")
def users_add(
    name: str,
    role: str = RoleOpt,
    expires_days: Optional[int] = DaysOpt,  # noqa: UP045
    config: ConfigOpt = None,
) -> None:
    """Add a person; prints their bearer token once (on stdout; the rest on stderr)."""
    from security import people

    actor = cli_actor()
    issued = _in_transaction(config, lambda session, settings: people.add(
        session, name, role, actor=actor, days=expires_days or settings.people.token_days))
    _issued("added", issued)


@app.command("rotate")
def users_rotate(
    name: str,
    expires_days: Optional[int] = DaysOpt,  # noqa: UP045
    config: ConfigOpt = None,
) -> None:
    """Give a person a new token; the old one stops working at once."""
    from security import people

    actor = cli_actor()
    issued = _in_transaction(config, lambda session, settings: people.rotate(
        session, name, actor=actor, days=expires_days or settings.people.token_days))
    _issued("new token for", issued)


@app.command("revoke")
def users_revoke(name: str, config: ConfigOpt = None) -> None:
    """Revoke a person for good: their token and password stop working at once."""
    from security import people

    actor = cli_actor()
    _in_transaction(config, lambda session, _: people.revoke(session, name, actor=actor))
    console.print(f"revoked {name}")


@app.command("passwd")
def users_passwd(name: str, config: ConfigOpt = None) -> None:
    """Set a person's password (asked twice, never echoed), for the console."""
    from security import people

    password = typer.prompt(f"password for {name}", hide_input=True,
                            confirmation_prompt=True, err=True)
    actor = cli_actor()
    _in_transaction(config, lambda session, settings: people.set_password(
        session, name, password, actor=actor,
        min_length=settings.people.min_password_length))
    console.print(f"password set for {name}")


@app.command("list")
def users_list(config: ConfigOpt = None) -> None:
    """People, their roles and states (never a token, password or hash)."""
    from security import people

    table = Table(Column("name", no_wrap=True), Column("role", no_wrap=True),
                  Column("state", no_wrap=True), Column("token expires (UTC)"),
                  Column("password"), Column("created"), Column("by"))
    for a in _in_transaction(config, lambda session, _: people.accounts(session)):
        table.add_row(
            a.name, a.role, a.state,
            f"{a.token_expires_at:%Y-%m-%d %H:%M}" if a.token_expires_at else "",
            "yes" if a.has_password else "no", f"{a.created_at:%Y-%m-%d}", a.created_by)
    console.print(table)
