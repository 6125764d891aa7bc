"""Packages from files: `validate` offline, `send` through a running hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer()


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="edXML or JSON packages")],
    config: ConfigOpt = None,
) -> None:
    """Validate packages offline; print every error with its path; exit 1 if any is invalid."""
    from schemas.offline import validate_file

    settings = settings_from(config)
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
