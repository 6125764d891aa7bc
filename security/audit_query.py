"""Searching the audit trail by what auditors ask about, in pages with an opaque cursor."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, literal, or_, select
from sqlalchemy.orm import Session

from core.errors import PermanentError
from security.audit import Record
from security.audit_tables import AuditEvent

MAX_PAGE = 1000


@dataclass(frozen=True)
class AuditFilter:
    """Every condition is optional; those given must all hold.

    `since` is inclusive and `until` exclusive (naive times are UTC); `organization` is one
    organisation code among those an event concerns; `events` are event names, or prefixes
    written `delivery.*`, any of which may match.
    """

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    organization: str | None = None
    actor: str | None = None
    message_id: str | None = None
    document_id: str | None = None
    events: Sequence[str] = ()
    sha256: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[Record] = field(default_factory=list)
    # None on the last page; otherwise pass it back for the next one
    next_cursor: str | None = None


def bad_cursor() -> PermanentError:
    return PermanentError("the cursor is not one this hub handed out", code="invalid_cursor",
                          detail_vi="Con trỏ phân trang không hợp lệ")


def encode_cursor(seq: int, newest_first: bool) -> str:
    raw = json.dumps({"after": seq, "desc": newest_first}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, bool]:
    """The position and the direction a cursor continues from. Raises PermanentError
    (invalid_cursor) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        seq, desc = value["after"], value["desc"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise bad_cursor() from exc
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(desc, bool):
        raise bad_cursor()
    return seq, desc


def _utc_text(moment: dt.datetime) -> str:
    """A time in the form events store theirs, so that text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _where(query: Select[tuple[AuditEvent]], f: AuditFilter) -> Select[tuple[AuditEvent]]:
    t = AuditEvent
    if f.since is not None:
        query = query.where(t.at >= _utc_text(f.since))
    if f.until is not None:
        query = query.where(t.at < _utc_text(f.until))
    if f.organization:
        code = f.organization.strip()
        if len(code.split()) != 1:
            raise PermanentError("organization is one organisation code",
                                 code="invalid_organization",
                                 detail_vi="Chỉ lọc theo một mã đơn vị")
        # codes are space-separated: pad both sides so that only a whole code matches
        padded = literal(" ") + t.organizations + literal(" ")
        query = query.where(padded.contains(f" {code} ", autoescape=True))
    if f.actor:
        query = query.where(t.actor == f.actor)
    if f.message_id:
        query = query.where(t.message_id == f.message_id)
    if f.document_id:
        query = query.where(t.document_id == f.document_id)
    if f.sha256:
        query = query.where(t.sha256 == f.sha256.lower())
    if f.events:
        exact = [e for e in f.events if not e.endswith(".*")]
        prefixes = [e[:-1] for e in f.events if e.endswith(".*")]
        query = query.where(or_(
            t.event.in_(exact),
            *[t.event.startswith(p, autoescape=True) for p in prefixes]))
    return query


def search(session: Session, f: AuditFilter, *, limit: int = 100, cursor: str | None = None,
           newest_first: bool = False) -> Page:
    """One page of the events matching `f`, in chain order (or newest first).

    A cursor carries its own direction. Raises PermanentError: invalid_cursor for a cursor
    this function did not make, invalid_organization for more than one code; sqlalchemy
    errors when the database cannot be read.
    """
    limit = max(1, min(limit, MAX_PAGE))
    after: int | None = None
    if cursor:
        after, newest_first = decode_cursor(cursor)
    query = _where(select(AuditEvent), f)
    if after is not None:
        query = query.where(AuditEvent.seq < after if newest_first else AuditEvent.seq > after)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq
    rows = session.execute(query.order_by(order).limit(limit + 1)).scalars().all()
    items = [Record.from_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items, encode_cursor(items[-1].seq, newest_first) if more and items else None)


def matching(session: Session, f: AuditFilter, batch: int = 1000) -> Iterator[Record]:
    """Every event matching `f`, in chain order, read a page at a time."""
    cursor: str | None = None
    while True:
        page = search(session, f, limit=batch, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
        session.expunge_all()
