"""A package's stored bytes: sealed on the way in, opened on the way out, re-sealed in place.

The one path between `messages.raw` and everything that writes or reads it. Each blob is
bound to its row by the message id (the associated data), which a column type could not do:
SQLAlchemy hands a TypeDecorator the value alone, never the row it belongs to, so a blob
copied into another message's row would open there unnoticed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select, update

from core.tables import table_of
from hub.store.db import Database
from hub.store.models import Message
from security import audit
from security.atrest import HEADER_BYTES, MAGIC, AtRestError, AtRestTampered, Sealer

log = logging.getLogger(__name__)
PLAINTEXT = "plaintext"


def aad(message_id: str) -> bytes:
    """What a message's blob is bound to: the column and the row."""
    return b"lienthong/messages.raw/" + message_id.encode("utf-8")


def _label(message_id: str) -> str:
    return f"the stored package of message {message_id}"


def sealed(sealer: Sealer, message_id: str, raw: bytes) -> bytes:
    """The bytes to store for a package received as `raw` (unchanged when protection is off)."""
    return sealer.seal(raw, aad(message_id))


def raw_of(sealer: Sealer, message: Message) -> bytes:
    """The package exactly as received. Raises AtRestKeyUnknown or AtRestTampered."""
    return sealer.open(message.stored_raw, aad(message.id), _label(message.id))


def _head() -> Any:
    return func.substr(table_of(Message).c.raw, 1, HEADER_BYTES)


def census(db: Database) -> dict[str, int]:
    """Rows per key id, and `plaintext` for rows stored unsealed. Reads only row heads."""
    raw = table_of(Message).c.raw
    # grouped in an outer query: the expression repeated with its parameters bound twice
    # is not "the same expression" to PostgreSQL's GROUP BY
    heads = select(func.substr(raw, 1, HEADER_BYTES).label("head")).subquery()
    counts: dict[str, int] = {}
    with db.reading() as session:
        for head, count in session.execute(
                select(heads.c.head, func.count()).group_by(heads.c.head)):
            head = bytes(head)
            name = (head[len(MAGIC):].decode("ascii", errors="replace")
                    if head.startswith(MAGIC) and len(head) == HEADER_BYTES else PLAINTEXT)
            counts[name] = counts.get(name, 0) + int(count)
    return counts


@dataclass
class Rotation:
    """What one `rotate` run did (committed work only)."""

    key_id: str
    pending: int = 0
    rotated: int = 0  # from an older key
    encrypted: int = 0  # from plaintext
    failed: list[tuple[str, str]] = field(default_factory=list)  # (message id, code)
    sources: dict[str, int] = field(default_factory=dict)
    complete: bool = False

    @property
    def done(self) -> int:
        return self.rotated + self.encrypted

    def audit_detail(self, batch: int) -> dict[str, Any]:
        return {"key_id": self.key_id, "rotated": self.rotated, "encrypted": self.encrypted,
                "failed": len(self.failed), "from": self.sources, "batch": batch,
                "complete": self.complete,
                "failed_messages": [{"id": i, "code": c} for i, c in self.failed[:100]]}


def rotate(db: Database, sealer: Sealer, *, batch: int = 500, actor: str = "hub",
           progress: Callable[[Rotation], None] | None = None) -> Rotation:
    """Re-seal under the current key every row that is not (plaintext rows included).

    One transaction per `batch` rows, so an interrupted run keeps what it committed and the
    next run takes up what is left. A row that cannot be opened (unknown key, tampered, or
    bytes that no longer match their SHA-256) is left as it is and listed. The run is one
    audit event, `atrest.rotated`, written even when it is interrupted.
    Raises AtRestError when protection at rest is off (no current key), ServiceUnavailable
    when the database is down.
    """
    if sealer.key_id is None:
        raise AtRestError("protection at rest is off: rotation seals under the current key, "
                          "so set atrest.enabled and LIENTHONG_ATREST_KEY", code="atrest_off")
    messages = table_of(Message)
    raw = messages.c.raw
    current = MAGIC + sealer.key_id.encode("ascii")
    todo = _head() != current
    report = Rotation(sealer.key_id)
    with db.reading() as session:
        report.pending = int(session.execute(
            select(func.count()).select_from(messages).where(todo)).scalar_one())
    write = (update(messages).where(messages.c.id == bindparam("b_id"))
             .values({raw: bindparam("b_raw")}))
    last = ""
    try:
        while True:
            with db.transaction() as session:
                conn = session.connection()
                rows = conn.execute(
                    select(messages.c.id, raw, messages.c.sha256)
                    .where(messages.c.id > last, todo)
                    .order_by(messages.c.id).limit(batch).with_for_update()
                ).all()
                if not rows:
                    break
                changes, sources = [], dict(report.sources)
                rotated, encrypted, failed = 0, 0, []
                for message_id, blob, digest in rows:
                    blob = bytes(blob)
                    source = (blob[len(MAGIC):HEADER_BYTES].decode("ascii", errors="replace")
                              if blob.startswith(MAGIC) else PLAINTEXT)
                    try:
                        plain = sealer.open(blob, aad(message_id), _label(message_id))
                        if hashlib.sha256(plain).hexdigest() != digest:
                            raise AtRestTampered(_label(message_id))
                    except AtRestError as exc:
                        log.error("message %s not re-sealed: %s", message_id, exc.code)
                        failed.append((message_id, exc.code))
                        continue
                    changes.append({"b_id": message_id,
                                    "b_raw": sealer.seal(plain, aad(message_id))})
                    sources[source] = sources.get(source, 0) + 1
                    if source == PLAINTEXT:
                        encrypted += 1
                    else:
                        rotated += 1
                if changes:
                    conn.execute(write, changes)
                last = rows[-1].id
            # counted once committed: the report says only what is really done
            report.rotated += rotated
            report.encrypted += encrypted
            report.failed.extend(failed)
            report.sources = sources
            if progress is not None:
                progress(report)
        report.complete = True
    finally:
        with db.transaction() as session:
            audit.append(session, [audit.PendingEvent(
                "atrest.rotated", actor=actor, detail=report.audit_detail(batch))])
    return report
