"""`lienthong dlq`: dead letters, and sending one again."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer(help="Dead letters", no_args_is_help=True)


@app.command("list")
def dlq_list(config: ConfigOpt = None) -> None:
    """Deliveries that gave up: the dead letters."""
    from hub.deadletters import dead_letters

    table = Table("delivery", "message", "recipient", "system", "attempts", "last error")
    for d in dead_letters(settings_from(config)):
        table.add_row(d["id"], d["message_id"], d["recipient"], d["system"],
                      str(d["attempts"]), (d["last_error"] or "")[:80])
    console.print(table)


@app.command("replay")
def dlq_replay(delivery_id: str, config: ConfigOpt = None) -> None:
    """Send a dead letter again (its attempts start from zero)."""
    from hub.context import HubContext
    from hub.deadletters import replay

    ctx = HubContext.build(settings_from(config))
    try:
        replay(ctx, delivery_id, actor="cli")
        console.print(f"delivery {delivery_id} queued again")
    finally:
        ctx.close()
