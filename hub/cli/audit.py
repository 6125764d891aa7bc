"""`lienthong audit`: check and export the audit chain."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer(help="The audit chain", no_args_is_help=True)


@app.command("verify")
def audit_verify(config: ConfigOpt = None) -> None:
    """Check the audit chain end to end; exit 1 if it is broken."""
    from hub.store.db import Database
    from security.audit import verify

    db = Database(settings_from(config).database_url)
    with db.reading() as session:
        report = verify(session)
    if report.ok:
        console.print(f"[green]audit chain intact[/green]: {report.events} events, "
                      f"head {report.head_hash}")
        raise typer.Exit(0)
    console.print(f"[red]audit chain broken[/red] at event {report.first_bad_seq}: "
                  f"{report.problem} ({report.events} events verified before it)")
    raise typer.Exit(1)


@app.command("export")
def audit_export(
    config: ConfigOpt = None,
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),  # noqa: UP045
) -> None:
    """Export the audit chain (JSONL or CSV), hashes included, for offline checking."""
    from hub.store.db import Database
    from security.audit import event_body, iter_events

    db = Database(settings_from(config).database_url)
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        with db.reading() as session:
            writer = None
            for row in iter_events(session):
                record = {**event_body(row), "prev_hash": row.prev_hash, "hash": row.hash}
                if fmt == "csv":
                    if writer is None:
                        writer = csv.DictWriter(out, fieldnames=list(record))
                        writer.writeheader()
                    writer.writerow({**record, "detail": json.dumps(record["detail"],
                                                                    ensure_ascii=False)})
                else:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if output:
            out.close()
