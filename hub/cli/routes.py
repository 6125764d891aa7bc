"""`lienthong routes`: where a package would go, and why, without sending it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer(help="Routing: groups and routing rules", no_args_is_help=True)


@app.command()
def explain(
    file: Annotated[Path, typer.Argument(help="an edXML or JSON package")],
    as_system: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--as", help="the id of the sending system in the directory (default: the system "
        "serving the package's sender)")] = None,
    as_json: bool = typer.Option(False, "--json", help="print the explanation as JSON"),
    config: ConfigOpt = None,
) -> None:
    """Parse the package offline, expand its recipient groups, evaluate the routing rules
    and print, for each rule, whether it matched and why, then the final recipients and
    their systems. Sends nothing; needs no running hub. Exit 1 if the hub would refuse the
    package (and why), 2 if the directory, the rules or the file cannot be read."""
    from core.errors import HubError
    from hub.ingest.explain import explain_file
    from routing.directory import Directory
    from routing.rules import configured_rules

    settings = settings_from(config)
    try:
        directory = Directory.from_file(settings.directory_file)
        rules = configured_rules(settings.routing.rules_file, directory)
        found = explain_file(file, settings, directory, rules, as_system)
    except (HubError, OSError) as exc:
        told = exc.detail if isinstance(exc, HubError) else f"cannot read {file}: {exc}"
        console.print(f"[red]{escape(told)}[/red]", soft_wrap=True)
        raise typer.Exit(2) from exc
    if as_json:
        console.print_json(json.dumps(found.as_dict(), ensure_ascii=False))
        raise typer.Exit(1 if found.refused else 0)
    shown = escape(str(file))
    sender = found.system.id if found.system else "?"
    console.print(f"{shown}: {found.kind.value if found.kind else 'package'} sent as "
                  f"{escape(sender)}", soft_wrap=True)
    for group in found.decision.groups:
        members = ", ".join(group.members) or "no unit"
        console.print(f"group {group.code} ({escape(group.name)}): {len(group.members)} "
                      f"unit(s): {members}", soft_wrap=True)
        if group.unreachable:
            console.print(f"  not sent, no system receives for: "
                          f"{', '.join(group.unreachable)}", soft_wrap=True)
    if not found.decision.verdicts and found.refusal is None:
        where = settings.routing.rules_file
        console.print("no routing rules" + (f" in {escape(str(where))}" if where else
                                            " (routing.rules_file is not set)"))
    for verdict in found.decision.verdicts:
        rule = verdict.rule
        mark = "[green]matched[/green]    " if verdict.matched else "[dim]not matched[/dim]"
        console.print(f"rule {escape(rule.name)} ({rule.action}): {mark} "
                      f"{escape(verdict.why)}", soft_wrap=True)
    refused = found.refused
    if refused is not None:
        console.print(f"[red]refused[/red] {refused.http_status} {refused.code}: "
                      f"{escape(refused.detail)}", soft_wrap=True)
        if refused.detail_vi:
            console.print(f"  [dim]{escape(refused.detail_vi)}[/dim]", soft_wrap=True)
        for err in refused.errors:
            console.print(f"  {escape(err.path)}: {escape(err.message)}", soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"recipients -> systems ({len(found.decision.routes)}):")
    for route in found.decision.routes:
        how = {"copy": f"  (copy, rule {route.rule})",
               "via": f"  (via rule {route.rule})"}.get(route.how, "")
        console.print(f"  {route.recipient} -> {route.system.id} "
                      f"({route.system.receive.mode}){escape(how)}", soft_wrap=True)
    raise typer.Exit(0)
