"""Packages from files: `validate` offline, `send` through a running hub."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from hub.cli.common import ConfigOpt, console, settings_from

if TYPE_CHECKING:
    from core.errors import FieldError
    from security.signatures.verdict import Verdict

app = typer.Typer()


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="edXML or JSON packages")],
    signatures: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--signatures", help="signature policy: required | if-present | off "
        "(default: the settings' signatures.default_policy)")] = None,
    trust_anchors: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--trust-anchors", help="trusted CA certificates: a file or a folder (repeatable; "
        "replaces the settings' signatures.trust_anchors)")] = None,
    crl: Annotated[Optional[list[Path]], typer.Option(  # noqa: UP045
        "--crl", help="a CRL file or folder (repeatable; replaces signatures.crls)")] = None,
    profile: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--profile", help="validation profile: interop | strict (default: the sending "
        "system's in the directory, else the settings' validation.profile)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate packages offline and verify their signatures; print every error with its
    path, line and code, and every warning on a line starting `warning`; exit 1 if any
    file is invalid or refused, 0 when there are only warnings."""
    from hub.ingest.offline import OfflineChecker
    from security.signatures.pki import TrustStoreError

    if signatures not in (None, "required", "if-present", "off"):
        raise typer.BadParameter("expected required, if-present or off", param_hint="--signatures")
    if profile not in (None, "interop", "strict"):
        raise typer.BadParameter("expected interop or strict", param_hint="--profile")
    settings = settings_from(config)
    if trust_anchors is not None:
        settings.signatures.trust_anchors = list(trust_anchors)
    if crl is not None:
        settings.signatures.crls = list(crl)
    try:
        checker = OfflineChecker(settings, signatures, profile=profile)  # type: ignore[arg-type]
    except TrustStoreError as exc:
        console.print(f"[red]{exc.detail}[/red]", soft_wrap=True)
        raise typer.Exit(2) from exc
    bad = 0
    for path in files:
        result = checker.check(path)
        shown = escape(str(path))
        if result.valid:
            console.print(f"[green]valid[/green]   {shown}{escape(_signed(result.verdict))}"
                          f"  [dim](profile {result.profile})[/dim]", soft_wrap=True)
        else:
            bad += 1
            console.print(f"[red]invalid[/red] {shown}  [dim](profile {result.profile})[/dim]",
                          soft_wrap=True)
        for err in result.report.errors:
            console.print(f"  {escape(_told(err))}", soft_wrap=True)
            if err.message_vi:
                console.print(f"    [dim]{escape(err.message_vi)}[/dim]", soft_wrap=True)
        if result.refusal is not None:
            console.print(f"  {result.refusal.code}: {escape(result.refusal.detail)}",
                          soft_wrap=True)
            if result.refusal.detail_vi:
                console.print(f"    [dim]{escape(result.refusal.detail_vi)}[/dim]",
                              soft_wrap=True)
        for warning in result.warnings:
            console.print(f"[yellow]warning[/yellow] {shown}: {escape(_told(warning))}",
                          soft_wrap=True)
            if warning.message_vi:
                console.print(f"    [dim]{escape(warning.message_vi)}[/dim]", soft_wrap=True)
    raise typer.Exit(1 if bad else 0)


def _told(problem: FieldError) -> str:
    """`path (line n) code: sentence`, as an error or a warning is printed."""
    where = problem.path + (f" (line {problem.line})" if problem.line else "")
    code = problem.as_dict().get("code")
    return f"{where} {code}: {problem.message}" if code else f"{where}: {problem.message}"


def _signed(verdict: Verdict | None) -> str:
    if verdict is None:
        return ""
    if verdict.signed:
        signer = verdict.signers[0]
        return f"  (signed by {signer.subject}, {verdict.algorithm})"
    return "  (signatures not checked)" if verdict.status == "not_checked" else "  (unsigned)"


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
