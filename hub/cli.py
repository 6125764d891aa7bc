"""The `lienthong` command line."""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from core.settings import Settings, load_settings

app = typer.Typer(help="lienthong: the provincial interoperability hub", no_args_is_help=True)
orgs_app = typer.Typer(help="The organisation directory", no_args_is_help=True)
audit_app = typer.Typer(help="The audit chain", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters", no_args_is_help=True)
adapters_app = typer.Typer(help="Delivery adapters", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(audit_app, name="audit")
app.add_typer(dlq_app, name="dlq")
app.add_typer(adapters_app, name="adapters")

console = Console()
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML settings file",  # noqa: UP045
                                                   envvar="LIENTHONG_CONFIG")]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def serve(
    config: ConfigOpt = None,
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, help="port to listen on"),
    workers: int = typer.Option(1, min=1, help="server processes (production mode only)"),
) -> None:
    """REST + SOAP; runs an in-process worker in embedded mode."""
    import os

    import uvicorn

    from hub.app import create_app

    _logging()
    settings = _settings(config)
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    if settings.embedded:
        console.print("[red]--workers needs production mode[/red] (LIENTHONG_DATABASE_URL and "
                      "LIENTHONG_REDIS_URL): embedded processes would not share a broker")
        raise typer.Exit(2)
    if config is not None:
        os.environ["LIENTHONG_CONFIG"] = str(config)  # each process reads the same file
    uvicorn.run("hub.app:app_from_environment", factory=True, workers=workers, host=host,
                port=port, log_level="info")


@app.command()
def worker(config: ConfigOpt = None) -> None:
    """A delivery worker (dramatiq) for production mode."""
    from hub.worker import run_worker

    _logging()
    run_worker(_settings(config))


@app.command()
def demo(
    config: ConfigOpt = None,
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8080),
    exit_after: bool = typer.Option(False, "--exit", help="stop after the walkthrough"),
) -> None:
    """Embedded hub + simulated agency systems; sends real documents and statuses through."""
    from hub.demo import run_demo

    _logging("WARNING")
    run_demo(_settings(config), host=host, port=port, keep_serving=not exit_after,
             console=console)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="edXML or JSON packages")],
    config: ConfigOpt = None,
) -> None:
    """Validate packages offline; print every error with its path; exit 1 if any is invalid."""
    from schemas.offline import validate_file

    settings = _settings(config)
    bad = 0
    for path in files:
        errors = validate_file(path, settings)
        if not errors:
            console.print(f"[green]valid[/green]   {path}")
            continue
        bad += 1
        console.print(f"[red]invalid[/red] {path}")
        for err in errors:
            where = f"{err.path}" + (f" (line {err.line})" if err.line else "")
            console.print(f"  {where}: {err.message}", soft_wrap=True)
            if err.message_vi:
                console.print(f"    [dim]{err.message_vi}[/dim]", soft_wrap=True)
    raise typer.Exit(1 if bad else 0)


@app.command()
def send(
    files: Annotated[list[Path], typer.Argument(help="packages to submit")],
    as_system: str = typer.Option(..., "--as", help="the API key of the sending system",
                                  envvar="LIENTHONG_API_KEY"),
    url: str = typer.Option("http://127.0.0.1:8080", help="the hub's base URL"),
    status: bool = typer.Option(False, "--status", help="the files are status packages"),
) -> None:
    """Submit packages through the running hub, with a progress bar."""
    import httpx
    from rich.progress import track

    endpoint = f"{url.rstrip('/')}/api/v1/{'statuses' if status else 'documents'}"
    failures = 0
    with httpx.Client(timeout=60) as client:
        for path in track(files, description="sending", console=console):
            raw = path.read_bytes()
            ctype = "application/json" if raw.lstrip()[:1] in (b"{", b"[") else "application/xml"
            r = client.post(endpoint, content=raw, headers={
                "Authorization": f"Bearer {as_system}", "Content-Type": ctype})
            if r.status_code in (200, 202):
                body = r.json()
                console.print(f"{path}: {body['status']} as {body['id']}", soft_wrap=True)
            else:
                failures += 1
                problem = r.json() if r.headers.get("content-type", "").endswith("json") else {}
                console.print(f"[red]{path}: {r.status_code} {problem.get('code', '')}[/red] "
                              f"{problem.get('detail', r.text[:200])}", soft_wrap=True)
                for err in problem.get("errors", []):
                    console.print(f"  {err['path']}: {err['message']}", soft_wrap=True)
    raise typer.Exit(1 if failures else 0)


@orgs_app.command("list")
def orgs_list(config: ConfigOpt = None, level: Optional[str] = None) -> None:  # noqa: UP045
    """The organisations and the systems that receive for them."""
    from routing.directory import Directory

    settings = _settings(config)
    directory = Directory.from_file(settings.directory_file)
    table = Table("code", "name", "level", "parent", "receiving system")
    for org in directory.organizations():
        if level and org.level.value != level:
            continue
        system = directory.receiver_for(org.code)
        table.add_row(org.code, org.name, org.level.value, org.parent or "",
                      f"{system.id} ({system.receive.mode})" if system else "-")
    console.print(table)


@orgs_app.command("import")
def orgs_import(
    file: Annotated[Path, typer.Argument(help="CSV, JSON, or the national platform's list")],
    config: ConfigOpt = None,
    level: str = typer.Option("external", help="level for records that carry none"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check and report, write nothing"),
) -> None:
    """Merge organisations into the directory file (validated as a whole first)."""
    from routing.directory import DirectoryError
    from routing.importer import merge

    settings = _settings(config)
    try:
        report = merge(settings.directory_file, file, default_level=level, dry_run=dry_run)
    except DirectoryError as exc:
        console.print(f"[red]not imported[/red]: {exc}")
        raise typer.Exit(1) from exc
    verb = "would change" if dry_run else "updated"
    console.print(f"{verb} {settings.directory_file}: {len(report.added)} added, "
                  f"{len(report.updated)} updated, {len(report.unchanged)} unchanged")


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = None) -> None:
    """Check the audit chain end to end; exit 1 if it is broken."""
    from hub.store.db import Database
    from security.audit import verify

    db = Database(_settings(config).database_url)
    with db.reading() as session:
        report = verify(session)
    if report.ok:
        console.print(f"[green]audit chain intact[/green]: {report.events} events, "
                      f"head {report.head_hash}")
        raise typer.Exit(0)
    console.print(f"[red]audit chain broken[/red] at event {report.first_bad_seq}: "
                  f"{report.problem} ({report.events} events verified before it)")
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    config: ConfigOpt = None,
    fmt: str = typer.Option("jsonl", "--format", help="jsonl or csv"),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),  # noqa: UP045
) -> None:
    """Export the audit chain (JSONL or CSV), hashes included, for offline checking."""
    from hub.store.db import Database
    from security.audit import event_body, iter_events

    db = Database(_settings(config).database_url)
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


@dlq_app.command("list")
def dlq_list(config: ConfigOpt = None) -> None:
    """Deliveries that gave up: the dead letters."""
    from hub.deadletters import dead_letters

    table = Table("delivery", "message", "recipient", "system", "attempts", "last error")
    for d in dead_letters(_settings(config)):
        table.add_row(d["id"], d["message_id"], d["recipient"], d["system"],
                      str(d["attempts"]), (d["last_error"] or "")[:80])
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(delivery_id: str, config: ConfigOpt = None) -> None:
    """Send a dead letter again (its attempts start from zero)."""
    from hub.context import HubContext
    from hub.deadletters import replay

    ctx = HubContext.build(_settings(config))
    try:
        replay(ctx, delivery_id, actor="cli")
        console.print(f"delivery {delivery_id} queued again")
    finally:
        ctx.close()


@adapters_app.command("list")
def adapters_list(config: ConfigOpt = None) -> None:
    """Installed and configured adapters, and where each came from."""
    from adapters.registry import builtin_factories
    from routing.directory import Directory

    settings = _settings(config)
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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
