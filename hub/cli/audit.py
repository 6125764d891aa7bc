"""`lienthong audit`: check, search and export the audit trail; the hub's signing key."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Optional

import typer

from hub.cli.common import ConfigOpt, console, settings_from

if TYPE_CHECKING:
    from security.audit import ChainReport, Record

app = typer.Typer(help="The audit trail", no_args_is_help=True)

PublicKeyOpt = typer.Option(
    None, "--public-key", help="PEM public key checkpoints must be signed with (repeatable); "
    "default: the hub's own key and audit.trusted_public_keys")
CheckpointsOpt = typer.Option(
    None, "--checkpoints", help="checkpoint file (JSON lines, or syslog lines) to check "
    "against (repeatable); default: audit.checkpoint_file")


@app.command("verify")
def audit_verify(
    config: ConfigOpt = None,
    public_key: Optional[list[Path]] = PublicKeyOpt,  # noqa: UP045
    checkpoints: Optional[list[Path]] = CheckpointsOpt,  # noqa: UP045
    export: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--export", help="check this export (lienthong audit export) instead of the "
        "database: offline, with --public-key and --checkpoints"),
    as_json: bool = typer.Option(False, "--json", help="the report as JSON"),
) -> None:
    """Check the audit chain and its signed checkpoints end to end; name the position of
    every break. Exit 1 if anything is broken."""
    from hub.auditing import checkpoint_files, verification_keys, verify_configured
    from security.audit_checkpoints import AuditKeyError, verify_export

    settings = settings_from(config)
    for path in [*(public_key or []), *(checkpoints or []), *([export] if export else [])]:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file")
    try:
        if export is not None:
            keys, notes = verification_keys(settings, public_key or [])
            files, file_notes = checkpoint_files(settings, checkpoints or [])
            with export.open(encoding="utf-8") as lines:
                report = verify_export(_exported(lines, export), keys, files,
                                       [*notes, *file_notes])
        else:
            from hub.store.db import Database

            db = Database(settings.database_url)
            try:
                report = verify_configured(db, settings, public_key or [], checkpoints or [])
            finally:
                db.dispose()
    except (AuditKeyError, OSError, ValueError) as exc:
        console.print(f"cannot check the audit trail: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        raise typer.Exit(0 if report.ok else 1)
    _print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def _exported(lines: IO[str], path: Path) -> Iterator[Record]:
    from security.audit import Record

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield Record.from_export(json.loads(line))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{number} is not an exported audit event") from exc


def _print_report(report: ChainReport) -> None:
    say = functools.partial(console.print, soft_wrap=True)
    cp = report.last_checkpoint
    signed = (f"; {report.checkpoints} of {report.signed} signed checkpoint(s) match, the "
              f"newest covers event {cp.seq} (signed {cp.at})" if cp is not None
              else "; no signed checkpoint")
    if report.ok:
        say(f"[green]audit chain intact[/green]: {report.events} events, head "
            f"{report.head_hash}{signed}")
    else:
        say(f"[red]audit chain broken[/red]: {len(report.breaks)} break(s) found in "
            f"{report.events} events{signed}")
        for b in report.breaks:
            line = f"  {b.kind:<10} {b.problem}"
            if b.message_id or b.document_id:
                line += f"; message {b.message_id or '-'}, DocumentId {b.document_id or '-'}"
            if b.neighbours:
                line += "; next to " + " and ".join(
                    f"event {n.seq} (message {n.message_id or '-'}, DocumentId "
                    f"{n.document_id or '-'})" for n in b.neighbours)
            say(line, markup=False, highlight=False)
    for note in report.notes:
        say(f"  note: {note}", markup=False, highlight=False)


def _moment(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name}: not an ISO 8601 time ({value})") from exc


@app.command("export")
def audit_export(
    config: ConfigOpt = None,
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),  # noqa: UP045
    since: Optional[str] = typer.Option(None, help="from this time (ISO 8601, inclusive; "  # noqa: UP045
                                        "UTC unless an offset is given)"),
    until: Optional[str] = typer.Option(None, help="before this time (ISO 8601)"),  # noqa: UP045
    organization: Optional[str] = typer.Option(None, help="an organisation code"),  # noqa: UP045
    actor: Optional[str] = typer.Option(None, help="a system id, a person, or hub"),  # noqa: UP045
    message_id: Optional[str] = typer.Option(None, "--message-id"),  # noqa: UP045
    document_id: Optional[str] = typer.Option(None, "--document-id"),  # noqa: UP045
    event: Optional[list[str]] = typer.Option(  # noqa: UP045
        None, "--event", help="event name, or a prefix like delivery.* (repeatable)"),
    sha256: Optional[str] = typer.Option(None, help="the raw package's SHA-256"),  # noqa: UP045
) -> None:
    """Export audit events (JSONL or CSV) with their hashes; all of them unless filtered.
    A full JSONL export can be checked offline: lienthong audit verify --export FILE."""
    from hub.store.db import Database
    from security.audit_query import AuditFilter, matching

    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("--format is jsonl or csv")
    f = AuditFilter(since=_moment(since, "--since"), until=_moment(until, "--until"),
                    organization=organization, actor=actor, message_id=message_id,
                    document_id=document_id, events=tuple(event or ()), sha256=sha256)
    db = Database(settings_from(config).database_url)
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        with db.reading() as session:
            writer = None
            for row in matching(session, f):
                record = row.as_dict()
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
        db.dispose()


@app.command("public-key")
def audit_public_key(
    config: ConfigOpt = None,
    output: Optional[Path] = typer.Option(None, "--output", "-o"),  # noqa: UP045
) -> None:
    """Print (or write) the public key that checks the hub's signed checkpoints (PEM)."""
    from hub.checkpointer import key_path
    from security.audit_checkpoints import AuditKeyError, SigningKey, public_pem

    path = key_path(settings_from(config))
    try:
        key = SigningKey.load(path)
    except AuditKeyError as exc:
        console.print(f"{exc.detail}; make one with: lienthong audit init-key", markup=False)
        raise typer.Exit(1) from exc
    pem = public_pem(key.public)
    if output:
        output.write_text(pem, encoding="ascii")
        console.print(f"public key {key.key_id} written to {output}", markup=False)
    else:
        typer.echo(pem, nl=False)


@app.command("init-key")
def audit_init_key(config: ConfigOpt = None) -> None:
    """Make the hub's checkpoint signing key (Ed25519) where audit.signing_key_file says;
    an existing key is never replaced."""
    from hub.checkpointer import key_path
    from security.audit_checkpoints import SigningKey

    path = key_path(settings_from(config))
    try:
        key = SigningKey.create(path)
    except FileExistsError as exc:
        console.print(f"{path} exists already; it is kept", markup=False)
        raise typer.Exit(1) from exc
    console.print(f"audit signing key {key.key_id} written to {path} (owner-only); give "
                  "auditors its public key: lienthong audit public-key", markup=False)


@app.command("checkpoint")
def audit_checkpoint(config: ConfigOpt = None) -> None:
    """Sign the chain head now (the running hub does it every N events or T seconds).
    Exit 1 if the chain is broken since the last checkpoint: a broken chain is not signed."""
    from hub.checkpointer import Checkpointer, signing_key
    from hub.store.db import Database

    settings = settings_from(config)
    db = Database(settings.database_url)
    writer = Checkpointer(db, settings, signing_key(settings))
    try:
        cp = writer.checkpoint_once(force=True)
    finally:
        writer.sinks.close()
        db.dispose()
    if writer.problem:
        console.print(f"not signed: the chain is broken since the last checkpoint "
                      f"({writer.problem}); see lienthong audit verify", markup=False)
        raise typer.Exit(1)
    if cp is None:
        console.print("nothing to sign: every event is covered by a checkpoint already")
        return
    console.print(f"checkpoint signed at event {cp.seq} ({cp.hash})", markup=False)
