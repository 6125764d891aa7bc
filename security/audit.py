"""The audit trail: append-only events linked into a SHA-256 hash chain, and its check.

Each event's hash is SHA-256 over the previous event's hash, a newline and the event's body
in canonical JSON (see `event_body`; the format is written out in docs/security.md so that
an outside tool can recompute it). Changing, removing, inserting or reordering events
breaks the hashes or the links; `verify` names the position of every break it finds. Appends
lock the one-row chain head, which serialises writers across every API and worker process.
Signed checkpoints of the head (security/audit_checkpoints.py) anchor the chain outside the
database, so that cutting off its tail is detected too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.tables import table_of
from security.audit_tables import AuditEvent, AuditHead

GENESIS = "0" * 64
# breaks listed in one report at most: past this the chain is wrecked, not tampered with
MAX_BREAKS = 1000
# how far a renumbered event is looked for on either side of where it stands
RENUMBER_REACH = 3


def canonical(value: Any) -> str:
    """Canonical JSON: keys sorted, no whitespace, UTF-8 characters as they are."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + "\n" + canonical(body)).encode("utf-8")).hexdigest()


def organizations_text(codes: Iterable[str]) -> str:
    """The stored form of a set of organisation codes: sorted, unique, space-separated."""
    return " ".join(sorted({c.strip() for c in codes if c and c.strip()}))


def body_of(*, seq: int, at: str, event: str, actor: str, message_id: str | None,
            delivery_id: str | None, detail: Mapping[str, Any], organizations: str = "",
            document_id: str | None = None, sha256: str | None = None) -> dict[str, Any]:
    """The hashed body of one event.

    Seven keys are always present; `organizations` only when not empty, `document_id` and
    `sha256` only when not null. Events written before those fields existed therefore keep
    their hashes, and a field added to an event later changes its hash.
    """
    body: dict[str, Any] = {"seq": seq, "at": at, "event": event, "actor": actor,
                            "message_id": message_id, "delivery_id": delivery_id,
                            "detail": dict(detail)}
    if organizations:
        body["organizations"] = organizations
    if document_id is not None:
        body["document_id"] = document_id
    if sha256 is not None:
        body["sha256"] = sha256
    return body


@dataclass(frozen=True)
class Record:
    """One stored event as the checker sees it: from the table or from an export."""

    seq: int
    at: str
    event: str
    actor: str
    message_id: str | None
    delivery_id: str | None
    organizations: str
    document_id: str | None
    sha256: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: Any) -> Record:
        """From an AuditEvent row (or a Core row with the same columns)."""
        return cls(seq=row.seq, at=row.at, event=row.event, actor=row.actor,
                   message_id=row.message_id, delivery_id=row.delivery_id,
                   organizations=row.organizations or "", document_id=row.document_id,
                   sha256=row.sha256, detail=_detail(row.detail), prev_hash=row.prev_hash,
                   hash=row.hash)

    @classmethod
    def from_export(cls, item: Mapping[str, Any]) -> Record:
        """From one line of `lienthong audit export`. Raises KeyError, TypeError or
        ValueError when the line is not an exported event."""
        return cls(seq=int(item["seq"]), at=str(item["at"]), event=str(item["event"]),
                   actor=str(item["actor"]), message_id=item.get("message_id"),
                   delivery_id=item.get("delivery_id"),
                   organizations=item.get("organizations") or "",
                   document_id=item.get("document_id"), sha256=item.get("sha256"),
                   detail=_detail(item.get("detail", {})), prev_hash=str(item["prev_hash"]),
                   hash=str(item["hash"]))

    def body(self, seq: int | None = None) -> dict[str, Any]:
        return body_of(seq=self.seq if seq is None else seq, at=self.at, event=self.event,
                       actor=self.actor, message_id=self.message_id,
                       delivery_id=self.delivery_id, detail=self.detail,
                       organizations=self.organizations, document_id=self.document_id,
                       sha256=self.sha256)

    def as_dict(self) -> dict[str, Any]:
        """The exported form: every stored field, the detail as an object."""
        return {"seq": self.seq, "at": self.at, "event": self.event, "actor": self.actor,
                "organizations": self.organizations, "message_id": self.message_id,
                "document_id": self.document_id, "delivery_id": self.delivery_id,
                "sha256": self.sha256, "detail": self.detail, "prev_hash": self.prev_hash,
                "hash": self.hash}


def _detail(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value) if value else {}
    return dict(value) if isinstance(value, Mapping) else {"value": value}


def event_body(row: Any) -> dict[str, Any]:
    """The hashed body of a stored event (an AuditEvent row or a Record)."""
    return (row if isinstance(row, Record) else Record.from_row(row)).body()


@dataclass(frozen=True)
class PendingEvent:
    """An event to append: what happened, who did it, and what it concerns.

    `actor` is the system, the person or `hub`; `organizations` the organisation codes
    concerned (sender, recipients); `sha256` the raw package's digest where there is one.
    """

    event: str
    actor: str = ""
    message_id: str | None = None
    delivery_id: str | None = None
    detail: dict[str, Any] | None = None
    organizations: Collection[str] = ()
    document_id: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


def append(session: Session, events: Sequence[PendingEvent]) -> Head | None:
    """Append events to the chain inside the caller's transaction; return the new head.

    Call it last in a transaction: the head row stays locked until commit.
    Raises sqlalchemy errors when the database refuses.
    """
    if not events:
        return None
    conn = session.connection()
    head_table = table_of(AuditHead)
    locked = select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1) \
        .with_for_update()
    head = conn.execute(locked).first()
    if head is None:
        _create_head(conn, head_table)
        head = conn.execute(locked).first()
    if head is None:  # pragma: no cover - the row was just made or waited for
        raise RuntimeError("the audit chain's head row is missing")
    seq, prev = head.seq, head.hash
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    rows = []
    for ev in events:
        seq += 1
        detail = ev.detail or {}
        organizations = organizations_text(ev.organizations)
        body = body_of(seq=seq, at=at, event=ev.event, actor=ev.actor,
                       message_id=ev.message_id, delivery_id=ev.delivery_id, detail=detail,
                       organizations=organizations, document_id=ev.document_id,
                       sha256=ev.sha256)
        digest = link_hash(prev, body)
        rows.append({"seq": seq, "at": at, "event": ev.event, "actor": ev.actor,
                     "message_id": ev.message_id, "delivery_id": ev.delivery_id,
                     "organizations": organizations, "document_id": ev.document_id,
                     "sha256": ev.sha256, "detail": canonical(detail), "prev_hash": prev,
                     "hash": digest})
        prev = digest
    conn.execute(insert(table_of(AuditEvent)), rows)
    conn.execute(update(head_table).where(head_table.c.id == 1).values(seq=seq, hash=prev))
    return Head(seq, prev)


def _create_head(conn: Any, head_table: Any) -> None:
    """Make the chain's head row. Processes racing to append the very first event each try;
    one inserts it, the others wait for that insert and then lock the row it made."""
    values = {"id": 1, "seq": 0, "hash": GENESIS}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(head_table).values(**values).on_conflict_do_nothing())
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(head_table).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(insert(head_table).values(**values))


def read_head(session: Session) -> Head | None:
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    return Head(row.seq, row.hash) if row is not None else None


def iter_records(session: Session, after: int = 0, until: int | None = None,
                 batch: int = 2000) -> Iterator[Record]:
    """Stored events in chain order, read in batches (the table may be large)."""
    table = table_of(AuditEvent)
    last = after
    while True:
        query = select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
        if until is not None:
            query = query.where(table.c.seq <= until)
        rows = session.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield Record.from_row(row)
        last = rows[-1].seq


def iter_events(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


# -- checking --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """The chain head at a moment, signed by the hub (security/audit_checkpoints.py)."""

    seq: int
    hash: str
    at: str
    key_id: str
    signature: str
    source: str = "database"

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "key_id": self.key_id,
                "signature": self.signature}


@dataclass(frozen=True)
class Neighbour:
    """An event next to a break: where it stands and what it belonged to."""

    seq: int
    message_id: str | None
    document_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "message_id": self.message_id, "document_id": self.document_id}


@dataclass
class Break:
    """One place where the chain does not hold.

    kind: edited (content does not match its hash), rewritten (changed and its hash
    recomputed), missing (deleted), inserted, moved (renumbered or reordered), truncated
    (the tail is gone), head (the chain head row disagrees), checkpoint (a checkpoint is
    not validly signed or does not match the chain).
    """

    seq: int
    kind: str
    problem: str
    last_seq: int | None = None
    message_id: str | None = None
    document_id: str | None = None
    neighbours: list[Neighbour] = field(default_factory=list)
    shift: int = 0  # moved: position minus the number the event was hashed with

    @property
    def where(self) -> str:
        return f"{self.seq}..{self.last_seq}" if self.last_seq is not None else str(self.seq)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "last_seq": self.last_seq, "kind": self.kind,
                               "problem": self.problem, "message_id": self.message_id,
                               "document_id": self.document_id}
        if self.neighbours:
            out["neighbours"] = [n.as_dict() for n in self.neighbours]
        return out


@dataclass
class ChainReport:
    """What a check found: `ok` only when there is no break."""

    events: int
    head_hash: str
    last_seq: int = 0
    breaks: list[Break] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checkpoints: int = 0  # validly signed checkpoints found to match the chain
    signed: int = 0  # validly signed checkpoints there are
    last_checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_bad_seq(self) -> int | None:
        return self.breaks[0].seq if self.breaks else None

    @property
    def problem(self) -> str:
        return self.breaks[0].problem if self.breaks else ""

    def as_dict(self) -> dict[str, Any]:
        cp = self.last_checkpoint
        return {
            "ok": self.ok, "events": self.events, "last_seq": self.last_seq,
            "head_hash": self.head_hash,
            "checkpoints": {"verified": self.checkpoints, "signed": self.signed,
                            "last": cp.as_dict() | {"source": cp.source} if cp else None},
            "breaks": [b.as_dict() for b in self.breaks],
            "notes": list(self.notes),
        }


@dataclass
class _Seen:
    seq: int
    orig: int
    hash: str
    message_id: str | None
    document_id: str | None
    flag: Break | None


@dataclass
class _Gap:
    """Event numbers not (yet) found, with the events around where they should be."""

    first: int
    last: int
    before: Neighbour | None
    after: Neighbour | None


def _neighbour(r: Record | _Seen | None) -> Neighbour | None:
    return Neighbour(r.seq, r.message_id, r.document_id) if r is not None else None


class ChainWalker:
    """Checks events fed in chain order, with memory bounded by the breaks, not the chain.

    Every event is checked against its own hash, its link to the event before, its number,
    and any trusted checkpoint at its position. A break is attributed to a position:
    an event whose content does not match its hash (edited); a sound event the next one
    does not link to (rewritten: its hash was recomputed); numbers absent between their
    neighbours (missing); an event the next one links past (inserted); an event whose
    content hashes under another number (moved: renumbered or reordered).
    """

    def __init__(self, anchors: Iterable[Checkpoint] = ()) -> None:
        self.anchors: dict[int, list[Checkpoint]] = {}
        for cp in anchors:
            self.anchors.setdefault(cp.seq, []).append(cp)
        self.breaks: list[Break] = []
        self.count = 0
        self.high = 0
        self.a: _Seen | None = None
        self.a2: _Seen | None = None
        self.gaps: list[_Gap] = []
        self.awaiting: dict[str, int] = {}
        self.orphans: dict[str, tuple[Break, Record]] = {}
        self.last_moved: Break | None = None
        self.seen_anchors: set[int] = set()
        self.confirmed = 0
        self.overflow = False

    def _add(self, b: Break) -> Break:
        if len(self.breaks) < MAX_BREAKS:
            self.breaks.append(b)
        else:
            self.overflow = True
        return b

    def _recover(self, r: Record) -> int | None:
        """The number this event's content hashes under, when it is not its position."""
        candidates = []
        if r.hash in self.awaiting:
            candidates.append(self.awaiting[r.hash])
        for d in range(1, RENUMBER_REACH + 1):
            candidates += [r.seq - d, r.seq + d]
        for seq in candidates:
            if seq >= 1 and link_hash(r.prev_hash, r.body(seq)) == r.hash:
                self.awaiting.pop(r.hash, None)
                return seq
        return None

    def _moved(self, r: Record, orig: int) -> Break:
        shift = r.seq - orig
        last = self.last_moved
        if (last is not None and last.kind == "moved" and last.shift == shift
                and (last.last_seq or last.seq) == r.seq - 1):
            last.last_seq = r.seq
            return last
        self.last_moved = self._add(Break(r.seq, "moved", "", message_id=r.message_id,
                                          document_id=r.document_id, shift=shift))
        return self.last_moved

    def _found(self, orig: int) -> bool:
        """Take `orig` out of the missing numbers; True if it was missing."""
        for i, gap in enumerate(self.gaps):
            if gap.first <= orig <= gap.last:
                parts = [_Gap(gap.first, orig - 1, gap.before, gap.after),
                         _Gap(orig + 1, gap.last, gap.before, gap.after)]
                self.gaps[i:i + 1] = [p for p in parts if p.first <= p.last]
                return True
        return False

    def feed(self, r: Record) -> None:
        self.count += 1
        sound = link_hash(r.prev_hash, r.body()) == r.hash
        flag: Break | None = None
        orig: int | None = r.seq if sound else self._recover(r)
        if not sound:
            if orig is not None:
                flag = self._moved(r, orig)
            else:
                flag = self._add(Break(r.seq, "edited",
                                       f"event {r.seq} does not match its hash: it was edited",
                                       message_id=r.message_id, document_id=r.document_id))
                if len(self.orphans) < MAX_BREAKS:
                    self.orphans[r.hash] = (flag, r)
        number = orig if orig is not None else r.seq
        a, a2 = self.a, self.a2
        if number > self.high + 1 and len(self.gaps) < MAX_BREAKS:
            self.gaps.append(_Gap(self.high + 1, number - 1, _neighbour(a), _neighbour(r)))
        elif number <= self.high:
            self._found(number)
        self.high = max(self.high, number)

        expected = a.hash if a is not None else GENESIS
        if r.prev_hash != expected:
            before_a = a2.hash if a2 is not None else GENESIS
            if a is not None and r.prev_hash == before_a and (
                    a.flag is None or a.flag.kind == "edited"):
                problem = (f"event {a.seq} was inserted: event {r.seq} links to the event "
                           f"before it")
                if a.flag is not None:
                    a.flag.kind, a.flag.problem = "inserted", problem
                    self.orphans.pop(a.hash, None)
                else:
                    a.flag = self._add(Break(a.seq, "inserted", problem,
                                             message_id=a.message_id,
                                             document_id=a.document_id))
            elif r.prev_hash in self.orphans:
                self._moved_back(r.prev_hash, number - 1)
            elif (r.seq > a.seq + 1 or number > a.orig + 1) if a is not None else number > 1:
                if sound and len(self.awaiting) < MAX_BREAKS:
                    self.awaiting[r.prev_hash] = number - 1
            elif a is not None and a.flag is None and sound:
                a.flag = self._add(Break(
                    a.seq, "rewritten",
                    f"event {a.seq} was changed and its hash recomputed: event {r.seq} "
                    f"links to another hash", message_id=a.message_id,
                    document_id=a.document_id))
            elif a is None and sound:
                self._add(Break(r.seq, "inserted",
                                f"event {r.seq} does not link to the start of the chain",
                                message_id=r.message_id, document_id=r.document_id))

        for cp in self.anchors.get(r.seq, ()):
            self.seen_anchors.add(r.seq)
            if cp.hash == r.hash:
                self.confirmed += 1
            else:
                self._add(Break(
                    r.seq, "checkpoint",
                    f"the checkpoint signed at {cp.at} ({cp.source}) records another hash "
                    f"at position {r.seq}: the chain was changed there after it was signed",
                    message_id=r.message_id, document_id=r.document_id))
        self.a2, self.a = a, _Seen(r.seq, number, r.hash, r.message_id, r.document_id, flag)

    def _moved_back(self, digest: str, orig: int) -> None:
        flag, row = self.orphans.pop(digest)
        if orig >= 1 and link_hash(row.prev_hash, row.body(orig)) == row.hash:
            flag.kind, flag.shift = "moved", row.seq - orig
            self._found(orig)

    def finish(self, head: Head | None, *, head_known: bool = True) -> ChainReport:
        """The report. `head` is the chain head row (None: no row); `head_known` False when
        checking an export, which carries no head row."""
        last = self.a
        last_seq = last.seq if last is not None else 0
        for gap in self.gaps:
            self._add(Break(gap.first, "missing", _missing_problem(gap),
                            last_seq=gap.last if gap.last != gap.first else None,
                            neighbours=[n for n in (gap.before, gap.after) if n is not None]))
        for b in self.breaks:
            if b.kind == "moved":
                b.problem = _moved_problem(b)
        tail = [last] if last is not None else []
        if head_known:
            self._check_head(head, last, tail)
        trusted = [cp for cps in self.anchors.values() for cp in cps]
        newest = max(trusted, key=lambda cp: cp.seq, default=None)
        if newest is not None and newest.seq > last_seq:
            self._add(Break(
                last_seq + 1, "truncated",
                f"the chain ends at event {last_seq} but the checkpoint signed at {newest.at} "
                f"({newest.source}) covers event {newest.seq}: "
                f"{_events(last_seq + 1, newest.seq)} removed",
                last_seq=newest.seq if newest.seq > last_seq + 1 else None,
                neighbours=[_n for _n in map(_neighbour, tail) if _n is not None]))
        for seq in sorted(set(self.anchors) - self.seen_anchors):
            if seq <= last_seq and not any(b.seq <= seq <= (b.last_seq or b.seq)
                                           for b in self.breaks):
                self._add(Break(seq, "checkpoint",
                                f"a signed checkpoint names event {seq}, which is missing"))
        if self.overflow:
            self.breaks.append(Break(0, "overflow",
                                     f"more than {MAX_BREAKS} breaks; the rest are not listed"))
        self.breaks.sort(key=lambda b: (b.seq, b.kind))
        return ChainReport(events=self.count, head_hash=last.hash if last else GENESIS,
                           last_seq=last_seq, breaks=self.breaks,
                           checkpoints=self.confirmed, signed=len(trusted),
                           last_checkpoint=newest)

    def _check_head(self, head: Head | None, last: _Seen | None, tail: list[_Seen]) -> None:
        last_seq = last.seq if last is not None else 0
        around = [n for n in map(_neighbour, tail) if n is not None]
        if head is None:
            if last is not None:
                self._add(Break(last_seq + 1, "head",
                                "the chain head row is missing: events after event "
                                f"{last_seq} may have been removed", neighbours=around))
        elif head.seq > last_seq:
            self._add(Break(last_seq + 1, "truncated",
                            f"the chain head records event {head.seq} but the chain ends at "
                            f"event {last_seq}: {_events(last_seq + 1, head.seq)} removed",
                            last_seq=head.seq if head.seq > last_seq + 1 else None,
                            neighbours=around))
        elif head.seq < last_seq:
            what = (f"event {last_seq} is" if last_seq == head.seq + 1
                    else f"events {head.seq + 1}..{last_seq} are")
            self._add(Break(head.seq + 1, "inserted",
                            f"{what} past the chain head (event {head.seq}): added outside "
                            f"the hub",
                            last_seq=last_seq if last_seq > head.seq + 1 else None))
        elif last is not None and head.hash != last.hash:
            self._add(Break(last_seq, "head",
                            f"the chain head's hash is not event {last_seq}'s hash",
                            message_id=last.message_id, document_id=last.document_id))


def _events(first: int, last: int) -> str:
    return f"event {first} was" if first == last else f"events {first}..{last} were"


def _missing_problem(gap: _Gap) -> str:
    what = (f"event {gap.first} is missing" if gap.first == gap.last
            else f"events {gap.first}..{gap.last} are missing")
    if gap.before is not None and gap.after is not None:
        return f"{what}: deleted from between positions {gap.before.seq} and {gap.after.seq}"
    if gap.after is not None:
        return f"{what}: deleted from before position {gap.after.seq}"
    return what


def _moved_problem(b: Break) -> str:
    if b.last_seq is None:
        return (f"the event at position {b.seq} was hashed as event {b.seq - b.shift}: "
                f"events were reordered or renumbered")
    return (f"the events at positions {b.seq}..{b.last_seq} were hashed as events "
            f"{b.seq - b.shift}..{b.last_seq - b.shift}: they were renumbered")


def verify_records(records: Iterable[Record], anchors: Iterable[Checkpoint] = (),
                   head: Head | None = None, *, head_known: bool = True) -> ChainReport:
    """Check events given in chain order (an export, or rows read elsewhere)."""
    walker = ChainWalker(anchors)
    for r in records:
        walker.feed(r)
    return walker.finish(head, head_known=head_known)


def verify(session: Session, anchors: Iterable[Checkpoint] = ()) -> ChainReport:
    """Walk the whole stored chain and its head; match it against trusted checkpoints.

    Raises sqlalchemy errors when the database cannot be read.
    """
    return verify_records(iter_records(session), anchors, read_head(session))


def with_search_fields(event: PendingEvent, *, organizations: Collection[str] = (),
                       document_id: str | None = None,
                       sha256: str | None = None) -> PendingEvent:
    """The event naming (also) these organisations, this DocumentId and this digest."""
    return replace(event, organizations=tuple(event.organizations) + tuple(organizations),
                   document_id=event.document_id or document_id,
                   sha256=event.sha256 or sha256)
