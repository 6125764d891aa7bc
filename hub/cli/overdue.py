"""`lienthong overdue`: recipients late under NĐ 30/2020, by organisation."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any, Optional

import typer

from hub.cli.common import ConfigOpt, console, settings_from

app = typer.Typer()


class Duty(StrEnum):
    receipt = "receipt"
    answer = "answer"


def how_late(seconds: int) -> str:
    """`2 d 3 h`, `3 h 5 min`, `12 min`: enough to tell who to call first."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@app.command("overdue")
def overdue_list(
    organization: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--organization", "-o", help="only this late organisation (its code)")] = None,
    kind: Annotated[Optional[Duty], typer.Option(  # noqa: UP045
        help="receipt: not confirmed the same working day; answer: not answered by the "
             "DueDate")] = None,
    since: Annotated[Optional[dt.datetime], typer.Option(  # noqa: UP045
        help="only duties due from this moment (without a zone: the working calendar's)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the listing as JSON, as GET "
                                                         "/api/v1/overdue answers")] = False,
    config: ConfigOpt = None,
) -> None:
    """Recipients late now: no receipt confirmed the same working day, or no answer by a
    document's DueDate (flagged by the hub's deadline scanner)."""
    from hub.overdue import OverdueFilter, overdue
    from hub.store.db import Database
    from routing.directory import Directory

    settings = settings_from(config)
    calendar = settings.deadlines.calendar()
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=calendar.zone)
    db = Database(settings.database_url)
    try:
        listing = overdue(db, Directory.from_file(settings.directory_file), None,
                          OverdueFilter(organization, kind.value if kind else None, since),
                          dt.datetime.now(dt.UTC))
    finally:
        db.dispose()
    if as_json:
        console.print_json(json.dumps(listing, ensure_ascii=False))
        return
    if not listing["organizations"]:
        console.print("nobody is late")
        return
    # plain lines, not a table: a document id is long, and operators grep this
    for group in listing["organizations"]:
        console.print(f"{group['organization']} {group['name'] or ''}: {group['count']} late",
                      markup=False, highlight=False)
        for item in group["late"]:
            console.print(f"  {item['kind']:<7}  {item['document_id'] or item['message_id']}  "
                          f"from {item['sender']}  due {_local(item['due_at'], calendar.zone)}  "
                          f"late by {how_late(item['late_by_s'])}", markup=False,
                          highlight=False)
    console.print(f"{listing['count']} late" + (" (more not shown: filter)"
                                                 if listing["truncated"] else ""))


def _local(iso: str, zone: Any) -> str:
    moment = dt.datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"
