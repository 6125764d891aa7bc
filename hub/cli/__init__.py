"""The `lienthong` command line: one module per group of commands."""

from __future__ import annotations

import typer

from hub.cli import adapters, atrest, audit, dlq, orgs, overdue, packages, routes, runtime, users

app = typer.Typer(help="lienthong: the provincial interoperability hub", no_args_is_help=True)
for group in (runtime, packages, overdue):
    for command in group.app.registered_commands:
        app.registered_commands.append(command)
app.add_typer(orgs.app, name="orgs")
app.add_typer(audit.app, name="audit")
app.add_typer(dlq.app, name="dlq")
app.add_typer(routes.app, name="routes")
app.add_typer(adapters.app, name="adapters")
app.add_typer(users.app, name="users")
app.add_typer(atrest.app, name="atrest")


def main() -> None:  # pragma: no cover
    app()
