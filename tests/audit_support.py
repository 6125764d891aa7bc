"""Audit trail tests' helpers: a chain of realistic events, checkpoints, and tampering done
the way someone with write access to the database would do it (plain SQL)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from core.settings import Settings
from hub.checkpointer import Checkpointer
from hub.store.db import Database
from hub.store.migrate import upgrade
from security import audit
from security.audit_checkpoints import SigningKey

PROVINCE, DEPARTMENT, DISTRICT = "000.00.00.H57", "000.00.02.H57", "000.00.21.H57"


def message_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def document_id(n: int) -> str:
    return f"{n}/QĐ-UBND"


def event_for(n: int) -> audit.PendingEvent:
    """Event n of the test chain: message n, alternating recipients and kinds of event."""
    recipient = DEPARTMENT if n % 2 else DISTRICT
    kind = ["message.received", "message.routed", "delivery.succeeded"][n % 3]
    return audit.PendingEvent(
        kind, actor="province" if kind == "message.received" else "hub",
        message_id=message_id(n), detail={"n": n, "tên": "Huế"},
        organizations=(PROVINCE, recipient), document_id=document_id(n),
        sha256=hashlib.sha256(f"package {n}".encode()).hexdigest())


def audit_settings(url: str, tmp: Path, **audit_over: Any) -> Settings:
    return Settings(database_url=url, audit={
        "signing_key_file": tmp / "keys" / "audit-signing.key",
        "checkpoint_file": tmp / "audit-checkpoints.jsonl", **audit_over})


def fill(db: Database, first: int, last: int) -> None:
    """Append events first..last, a few per transaction as the hub does."""
    for start in range(first, last + 1, 3):
        with db.transaction() as session:
            audit.append(session, [event_for(n) for n in range(start, min(start + 3, last + 1))])


def chain(settings: Settings, events: int = 12, signed_at: int = 10) -> Database:
    """A migrated database holding `events` events, with a signed checkpoint (in the table
    and in the checkpoint file) at event `signed_at`."""
    db = Database(settings.database_url)
    upgrade(db.engine)
    fill(db, 1, signed_at)
    checkpoint(db, settings)
    fill(db, signed_at + 1, events)
    return db


def checkpoint(db: Database, settings: Settings) -> audit.Checkpoint:
    assert settings.audit.signing_key_file is not None
    key, _ = SigningKey.load_or_create(settings.audit.signing_key_file)
    writer = Checkpointer(db, settings, key)
    try:
        cp = writer.checkpoint_once(force=True)
    finally:
        writer.sinks.close()
    assert cp is not None, writer.problem
    return cp


def sql(db: Database, *statements: str, **params: Any) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def row(db: Database, seq: int) -> dict[str, Any]:
    with db.engine.connect() as conn:
        found = conn.execute(text("SELECT * FROM audit_events WHERE seq = :s"), {"s": seq})
        return dict(found.mappings().one())


def forge_insert(db: Database, at_seq: int) -> None:
    """Insert a well-formed forged event at `at_seq`: the events from there on move up one,
    and the forgery links to its predecessor with a correctly computed hash."""
    prev = row(db, at_seq - 1)
    sql(db, "UPDATE audit_events SET seq = -seq WHERE seq >= :s", s=at_seq)
    sql(db, "UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0")
    body = audit.body_of(seq=at_seq, at=prev["at"], event="message.received", actor="intruder",
                         message_id=message_id(999), delivery_id=None, detail={},
                         organizations=PROVINCE, document_id="999/QĐ-UBND")
    sql(db, "INSERT INTO audit_events (seq, at, event, actor, message_id, delivery_id, "
            "organizations, document_id, sha256, detail, prev_hash, hash) VALUES (:seq, :at, "
            "'message.received', 'intruder', :mid, NULL, :orgs, '999/QĐ-UBND', NULL, '{}', "
            ":prev, :hash)", seq=at_seq, at=prev["at"], mid=message_id(999), orgs=PROVINCE,
        prev=prev["hash"], hash=audit.link_hash(prev["hash"], body))


def swap(db: Database, a: int, b: int) -> None:
    sql(db, "UPDATE audit_events SET seq = -1 WHERE seq = :a", a=a)
    sql(db, "UPDATE audit_events SET seq = :a WHERE seq = :b", a=a, b=b)
    sql(db, "UPDATE audit_events SET seq = :b WHERE seq = -1", b=b)


def cut_tail(db: Database, keep: int) -> None:
    """Remove every event after `keep`, the chain head row and the table's checkpoints
    after it: what someone erasing the end of the trail from the database would do."""
    sql(db, "DELETE FROM audit_events WHERE seq > :k", k=keep)
    sql(db, "DELETE FROM audit_checkpoints WHERE seq > :k", k=keep)
    sql(db, "DELETE FROM audit_head")


def report_json(output: str) -> dict[str, Any]:
    return json.loads(output)  # type: ignore[no-any-return]


# what each filter must return from the chain of 12 events `chain` builds (by event number)
QUERY_CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({}, list(range(1, 13))),
    ({"organization": DISTRICT}, [2, 4, 6, 8, 10, 12]),
    ({"organization": PROVINCE}, list(range(1, 13))),
    ({"organization": "000.00.21.H5"}, []),  # a prefix of a code is not the code
    ({"actor": "province"}, [3, 6, 9, 12]),
    ({"events": ("delivery.*",)}, [2, 5, 8, 11]),
    ({"events": ("message.received", "message.routed")}, [1, 3, 4, 6, 7, 9, 10, 12]),
    ({"events": ("message.*",), "organization": DEPARTMENT}, [1, 3, 7, 9]),
    ({"message_id": message_id(4)}, [4]),
    ({"document_id": document_id(11)}, [11]),
    ({"sha256": hashlib.sha256(b"package 5").hexdigest().upper()}, [5]),
    ({"actor": "hub", "organization": DISTRICT, "events": ("delivery.*",)}, [2, 8]),
]


def numbers(records: Any) -> list[int]:
    """The event numbers (n in event_for) of records, from their detail."""
    return [r.detail["n"] for r in records]
