"""`lienthong dlq`: dead letters, and sending them again."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer(help="Dead letters", no_args_is_help=True)

SystemOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045 - typer reads the annotation
    "--system", help="only dead letters for this system")]
RecipientOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--recipient", help="only dead letters for this organisation code")]


@app.command("list")
def dlq_list(config: ConfigOpt = None, system: SystemOpt = None,
             recipient: RecipientOpt = None) -> None:
    """Deliveries that gave up: the dead letters, the most recent first."""
    from hub.deadletters import DeadLetterFilter, dead_letters

    table = Table("delivery", "message", "recipient", "system", "attempts", "last error")
    for d in dead_letters(settings_from(config),
                          f=DeadLetterFilter(system=system, recipient=recipient)):
        table.add_row(d["id"], d["message_id"], d["recipient"], d["system"],
                      str(d["attempts"]), (d["last_error"] or "")[:80])
    console.print(table)


@app.command("replay")
def dlq_replay(
    delivery_ids: Annotated[Optional[list[str]], typer.Argument(  # noqa: UP045
        help="the dead letters' delivery ids")] = None,
    replay_all: Annotated[bool, typer.Option(
        "--all", help="every dead letter (with --system / --recipient: those matching)")
    ] = False,
    system: SystemOpt = None,
    recipient: RecipientOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Send dead letters again (their attempts start from zero), audited as the CLI's."""
    from hub.context import HubContext
    from hub.deadletters import REPLAYED, DeadLetterFilter, replay_many, replay_matching

    if bool(delivery_ids) == replay_all:
        console.print("[red]give delivery ids, or --all[/red]")
        raise typer.Exit(2)
    if delivery_ids and (system or recipient):
        console.print("[red]--system and --recipient go with --all[/red]")
        raise typer.Exit(2)
    ctx = HubContext.build(settings_from(config))
    try:
        if delivery_ids:
            results = replay_many(ctx, delivery_ids, actor="cli")
        else:
            results = replay_matching(ctx, DeadLetterFilter(system=system, recipient=recipient),
                                      actor="cli")
    finally:
        ctx.close()
    for delivery_id, result in results.items():
        verb = "queued again" if result == REPLAYED else result.replace("_", " ")
        console.print(f"delivery {delivery_id}: {verb}")
    done = sum(1 for r in results.values() if r == REPLAYED)
    console.print(f"{done} of {len(results)} dead letter(s) queued again")
    if done < len(results):
        raise typer.Exit(1)
