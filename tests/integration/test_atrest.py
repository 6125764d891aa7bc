"""Protection at rest on PostgreSQL: sealed packages are nowhere in the database in the clear,
yet reach push receivers and the inbox byte for byte; rows from before stay readable; rotation
moves every row to the new key; a moved or altered row is refused with its code."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from core.model import Kind
from core.settings import Settings
from hub.cli import app
from hub.context import HubContext
from hub.store.db import Database
from hub.store.raw import PLAINTEXT, census, rotate
from security.atrest import Sealer, key_id, key_id_of
from security.audit import verify
from security.audit_tables import AuditEvent
from tests.soap_support import envelope, headers, read_fault, security
from tests.support import (
    DEPARTMENT,
    DISTRICT,
    KEYS,
    LiveHub,
    Receiver,
    body,
    document,
    hue_directory,
    run_hub,
    wait_until,
)

pytestmark = pytest.mark.integration

K1, K2 = b"\x11" * 32, b"\x22" * 32
SUBJECT = "Quyết định phê duyệt đề án NIÊM-PHONG-7f3a"
# what a stolen dump must not show: an attachment travels only in the stored package
SECRET_FILE = "Biên bản mật: mã số NIEMPHONG-ATTACH-91c2".encode()


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings],
         pg_url: str) -> Callable[..., Settings]:
    """Settings on this test's PostgreSQL database with the given keys in the environment."""

    def build(current: bytes | None = None, old: tuple[bytes, ...] = (),
              enabled: bool = True) -> Settings:
        for name, value in (("LIENTHONG_ATREST_KEY", b64(current) if current else None),
                            ("LIENTHONG_ATREST_OLD_KEYS", ",".join(b64(k) for k in old))):
            if value:
                monkeypatch.setenv(name, value)
            else:
                monkeypatch.delenv(name, raising=False)
        # the environment a command (`lienthong atrest ...`) run next would see
        monkeypatch.setenv("LIENTHONG_DATABASE_URL", pg_url)
        monkeypatch.setenv("LIENTHONG_ATREST__ENABLED", "true" if enabled else "false")
        return make_settings(database_url=pg_url, atrest={"enabled": enabled})

    return build


def package(number: int, to: tuple[str, ...] = (DEPARTMENT, DISTRICT)) -> bytes:
    return body(document(number, to=to, subject=f"{SUBJECT} ({number})", attachments=[{
        "contentId": f"cid:bb-{number}", "attachmentName": "bien-ban.txt",
        "contentType": "text/plain", "content": base64.b64encode(SECRET_FILE).decode()}]))


def submit(hub: LiveHub, raw: bytes) -> str:
    r = httpx.post(f"{hub.url}/api/v1/documents", content=raw, headers={
        "Authorization": f"Bearer {KEYS['province']}", "Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def store(ctx: HubContext, raw: bytes) -> str:
    system = ctx.directory.system("province")
    assert system is not None
    return ctx.ingest.submit(system, raw, "application/json", Kind.DOCUMENT).id


def pull(hub: LiveHub, message_id: str) -> httpx.Response:
    return httpx.get(f"{hub.url}/api/v1/inbox/{message_id}", headers={
        "Authorization": f"Bearer {KEYS['district']}", "Accept": "application/json"})


@contextmanager
def database(url: str) -> Iterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()


def stored(url: str, message_id: str) -> tuple[bytes, str]:
    with database(url) as db, db.engine.connect() as conn:
        raw, digest = conn.execute(text("SELECT raw, sha256 FROM messages WHERE id = :id"),
                                   {"id": message_id}).one()
    return bytes(raw), digest


def rows_showing(url: str, needle: bytes) -> list[str]:
    """Every table whose rows show `needle`, as text or as the hex of a bytea column."""
    found = []
    with database(url) as db, db.engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )).scalars().all()
        for table in tables:
            hits = conn.execute(text(
                f'SELECT count(*) FROM "{table}" t '  # names from the catalogue
                "WHERE t::text LIKE :plain OR t::text LIKE :hex"),
                {"plain": f"%{needle.decode()}%", "hex": f"%{needle.hex()}%"}).scalar_one()
            if hits:
                found.append(table)
    return found


def test_a_sealed_package_is_not_in_the_database_yet_arrives_byte_for_byte(
    keys: Callable[..., Settings], pg_url: str, receiver: Receiver
) -> None:
    settings = keys(K1)
    raw = package(701)
    with run_hub(settings, hue_directory(receiver.url)) as hub:
        message_id = submit(hub, raw)
        wait_until(lambda: receiver.at("/department"), what="the push to the department")
        assert receiver.at("/department")[0].body == raw  # pushed exactly as received
        pulled = pull(hub, message_id)
        assert pulled.status_code == 200, pulled.text
        assert pulled.content == raw  # served from the inbox exactly as received

    blob, digest = stored(pg_url, message_id)
    assert key_id_of(blob) == key_id(K1)
    assert SUBJECT.encode() not in blob and SECRET_FILE not in blob
    assert base64.b64encode(SECRET_FILE) not in blob
    # the digest the audit trail and the receipts quote is the package's, not the blob's
    assert digest == hashlib.sha256(raw).hexdigest()
    assert rows_showing(pg_url, base64.b64encode(SECRET_FILE)) == []


def test_rows_stored_before_protection_was_on_still_read(
    keys: Callable[..., Settings], pg_url: str, receiver: Receiver
) -> None:
    before, after = package(711, to=(DISTRICT,)), package(712, to=(DISTRICT,))
    with run_hub(keys(None, enabled=False), hue_directory(receiver.url)) as hub:
        old_id = submit(hub, before)
    # unprotected, the attachment is there for anyone holding a dump (the search works)
    assert rows_showing(pg_url, base64.b64encode(SECRET_FILE)) == ["messages"]

    with run_hub(keys(K1), hue_directory(receiver.url)) as hub:
        new_id = submit(hub, after)
        for message_id, raw in ((old_id, before), (new_id, after)):
            pulled = pull(hub, message_id)
            assert pulled.status_code == 200, pulled.text
            assert pulled.content == raw
    assert stored(pg_url, old_id)[0] == before
    assert key_id_of(stored(pg_url, new_id)[0]) == key_id(K1)
    with database(pg_url) as db:
        assert census(db) == {PLAINTEXT: 1, key_id(K1): 1}


def test_rotation_moves_every_row_to_the_new_key_and_is_audited(
    keys: Callable[..., Settings], pg_url: str, receiver: Receiver
) -> None:
    directory = hue_directory(receiver.url)
    sent: dict[str, bytes] = {}
    ctx = HubContext.build(keys(None, enabled=False), directory=directory)
    try:
        raw = package(720, to=(DISTRICT,))
        sent[store(ctx, raw)] = raw
    finally:
        ctx.close()
    ctx = HubContext.build(keys(K1), directory=directory)
    try:
        for n in range(721, 726):
            raw = package(n, to=(DISTRICT,))
            sent[store(ctx, raw)] = raw
    finally:
        ctx.close()

    keys(K2, old=(K1,))  # the environment `lienthong atrest rotate` runs in
    result = CliRunner().invoke(app, ["atrest", "rotate", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "re-sealed 2/6" in result.output and "re-sealed 6/6" in result.output
    status = CliRunner().invoke(app, ["atrest", "status"])
    assert status.exit_code == 0, status.output
    assert f"sealing under key {key_id(K2)}" in status.output
    with database(pg_url) as db:
        assert census(db) == {key_id(K2): 6}
        with db.reading() as session:
            event = session.execute(select(AuditEvent).where(
                AuditEvent.event == "atrest.rotated")).scalar_one()
            assert verify(session).ok
    detail = json.loads(event.detail)
    assert (detail["rotated"], detail["encrypted"], detail["failed"]) == (5, 1, 0)
    assert detail["key_id"] == key_id(K2) and detail["complete"] is True
    assert detail["from"] == {key_id(K1): 5, PLAINTEXT: 1}
    assert event.actor.startswith("cli:")

    # the old key can go: every row opens with the new one alone
    with run_hub(keys(K2), directory) as hub:
        for message_id, raw in sent.items():
            pulled = pull(hub, message_id)
            assert pulled.status_code == 200, pulled.text
            assert pulled.content == raw


def test_an_interrupted_rotation_keeps_its_work_and_the_next_run_finishes(
    keys: Callable[..., Settings], pg_url: str, receiver: Receiver
) -> None:
    ctx = HubContext.build(keys(K1), directory=hue_directory(receiver.url))
    try:
        for n in range(731, 736):
            store(ctx, package(n, to=(DISTRICT,)))
    finally:
        ctx.close()

    def stop(_: Any) -> None:
        raise KeyboardInterrupt

    with database(pg_url) as db:
        sealer = Sealer(K2, [K1])
        with pytest.raises(KeyboardInterrupt):
            rotate(db, sealer, batch=2, actor="test", progress=stop)
        assert census(db) == {key_id(K2): 2, key_id(K1): 3}
        report = rotate(db, sealer, batch=2, actor="test")
        assert (report.pending, report.rotated, report.complete) == (3, 3, True)
        assert census(db) == {key_id(K2): 5}
        with db.reading() as session:
            runs = [json.loads(e.detail) for e in session.execute(
                select(AuditEvent).where(AuditEvent.event == "atrest.rotated")
                .order_by(AuditEvent.seq)).scalars()]
    assert [(r["rotated"], r["complete"]) for r in runs] == [(2, False), (3, True)]


def test_a_moved_or_altered_row_and_a_lost_key_are_refused_with_their_codes(
    keys: Callable[..., Settings], pg_url: str, receiver: Receiver
) -> None:
    directory = hue_directory(receiver.url)
    with run_hub(keys(K1), directory) as hub:
        first, second = (submit(hub, package(n, to=(DISTRICT,))) for n in (741, 742))
        with database(pg_url) as db, db.engine.begin() as conn:
            # the first message's row now holds the second's blob, intact
            conn.execute(text("UPDATE messages SET raw = (SELECT raw FROM messages "
                              "WHERE id = :src) WHERE id = :dst"), {"src": second, "dst": first})
        moved = pull(hub, first)
        assert moved.status_code == 500
        assert moved.json()["code"] == "atrest_tampered"
        assert first in moved.json()["detail"]
        soap = httpx.post(f"{hub.url}/soap", headers=headers("1.2", "GetDocument"),
                          content=envelope(f"<lt:GetDocument><lt:MessageId>{first}"
                                           "</lt:MessageId></lt:GetDocument>",
                                           security("district", KEYS["district"])))
        fault = read_fault(soap.content)
        assert (soap.status_code, fault.soap_code, fault.code) == (500, "Receiver",
                                                                    "atrest_tampered")
        assert pull(hub, second).status_code == 200  # the original is untouched

        with database(pg_url) as db, db.engine.begin() as conn:
            conn.execute(text("UPDATE messages SET raw = set_byte(raw, 60, "
                              "get_byte(raw, 60) # 1) WHERE id = :id"), {"id": second})
        flipped = pull(hub, second)
        assert flipped.status_code == 500
        assert flipped.json()["code"] == "atrest_tampered"

    # rotation leaves what it cannot open as it is, names it, and says so in its exit status
    keys(K2, old=(K1,))
    result = CliRunner().invoke(app, ["atrest", "rotate"])
    assert result.exit_code == 1
    assert f"atrest_tampered: message {first}" in result.output
    assert f"atrest_tampered: message {second}" in result.output

    third_raw = package(743, to=(DISTRICT,))
    with run_hub(keys(K1), directory) as hub:
        third = submit(hub, third_raw)
    with run_hub(keys(K2), directory) as hub:  # a process started without the old key
        lost = pull(hub, third)
        assert lost.status_code == 500
        assert lost.json()["code"] == "atrest_key_unknown"
        assert key_id(K1) in lost.json()["detail"]
    with run_hub(keys(K2, old=(K1,)), directory) as hub:  # given back: nothing was lost
        assert pull(hub, third).content == third_raw
