"""The file drop adapter in an embedded hub with temporary folders: documents land whole as
`<message id>.json` in the folder the old system watches; the files it writes (documents and
statuses) are polled, reach their recipients, and are moved to done/ or, refused, to failed/
with the reason."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.file_drop import FileDropAdapter
from core.errors import AdapterMisconfigured
from routing.directory import Directory, Receive
from tests.support import (
    KEYS,
    PROVINCE,
    LiveHub,
    Receiver,
    body,
    document,
    holds_for,
    key_hash,
    run_hub,
    status,
    wait_until,
)

OLD = "000.00.07.H57"  # Sở Tư pháp, whose old system only reads and writes files


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outbox = tmp_path / "vao", tmp_path / "ra"
    inbox.mkdir()
    outbox.mkdir()
    return inbox, outbox


def directory(receiver_url: str, inbox: Path, outbox: Path) -> Directory:
    return Directory.from_dict({
        "organizations": [
            {"code": PROVINCE, "name": "UBND thành phố Huế", "level": "province"},
            {"code": OLD, "name": "Sở Tư pháp", "level": "department", "parent": PROVINCE}],
        "systems": [
            {"id": "province", "organizations": [PROVINCE],
             "api_key_hashes": [key_hash(KEYS["province"])],
             "receive": {"mode": "push", "url": f"{receiver_url}/province"}},
            {"id": "tu-phap", "organizations": [OLD],
             "receive": {"mode": "push", "adapter": "file", "url": inbox.as_uri(),
                         "poll_interval_s": 0.1,
                         "options": {"in_dir": str(outbox), "min_age_s": "0"}}},
        ]})


@pytest.fixture
def hub(make_settings: Any, receiver: Receiver, folders: tuple[Path, Path]
        ) -> Iterator[LiveHub]:
    settings = make_settings(embedded_worker=True, polling={"tick_s": 0.05})
    with run_hub(settings, directory(receiver.url, *folders)) as live:
        yield live


def drop(folder: Path, name: str, content: bytes) -> None:
    """As a careful old system writes: a hidden file first, renamed when whole."""
    (folder / f".{name}").write_bytes(content)
    os.replace(folder / f".{name}", folder / name)


def test_a_document_lands_whole_named_by_the_message_id(
        hub: LiveHub, folders: tuple[Path, Path]) -> None:
    inbox, _ = folders
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(601, to=(OLD,))),
                   headers={"Authorization": f"Bearer {KEYS['province']}",
                            "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 202, r.text
    target = inbox / f"{r.json()['id']}.json"
    wait_until(target.exists, what="the document file")
    assert json.loads(target.read_bytes())["documentId"] == document(601)["documentId"]
    assert sorted(p.name for p in inbox.iterdir()) == [target.name]  # no temporary left


def test_documents_and_statuses_the_system_writes_reach_their_recipients(
        hub: LiveHub, receiver: Receiver, folders: tuple[Path, Path]) -> None:
    inbox, outbox = folders
    sent = document(602, to=(OLD,))
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(sent),
                   headers={"Authorization": f"Bearer {KEYS['province']}",
                            "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 202, r.text
    wait_until(lambda: any(inbox.iterdir()), what="the document file")
    drop(outbox, "tiep-nhan-602.json", body(status(sent["documentId"], OLD, PROVINCE, "03")))
    drop(outbox, "cv-45.json", body(document(45, to=(PROVINCE,), sender=OLD)))
    wait_until(lambda: len(receiver.at("/province")) == 2, what="the status and the document",
               progress=lambda: len(receiver.at("/province")))
    kinds = sorted(x.headers["X-Lienthong-Kind"] for x in receiver.at("/province"))
    assert kinds == ["document", "status"]
    wait_until(lambda: sorted(p.name for p in (outbox / "done").iterdir())
               == ["cv-45.json", "tiep-nhan-602.json"], what="both files moved to done/")
    assert sorted(p.name for p in outbox.iterdir()) == ["done"]


def test_a_refused_file_goes_to_failed_with_the_reason_and_a_hidden_one_is_left_alone(
        hub: LiveHub, receiver: Receiver, folders: tuple[Path, Path]) -> None:
    _, outbox = folders
    (outbox / ".dang-ghi.json").write_bytes(b'{"half": ')  # the system is still writing it
    drop(outbox, "gia-mao.json", body(document(46, to=(OLD,), sender=PROVINCE)))
    wait_until(lambda: (outbox / "failed" / "gia-mao.json.reason.txt").exists(),
               what="the refusal's reason")
    reason = (outbox / "failed" / "gia-mao.json.reason.txt").read_text(encoding="utf-8")
    assert reason.startswith("sender_not_served:")
    assert (outbox / "failed" / "gia-mao.json").exists()
    holds_for(lambda: (outbox / ".dang-ghi.json").exists() and receiver.at("/province") == [],
              0.5, what="the hidden file untouched, nothing delivered")


def test_a_young_file_waits_until_it_has_settled(tmp_path: Path) -> None:
    adapter = FileDropAdapter()
    receive = Receive(mode="push", adapter="file", url=tmp_path.as_uri(),
                      options={"in_dir": str(tmp_path), "min_age_s": "60"})
    (tmp_path / "moi.edxml").write_bytes(b"<edXML/>")
    assert adapter.poll("tu-phap", receive) == []
    old = time.time() - 120
    os.utime(tmp_path / "moi.edxml", (old, old))
    assert [i.ref for i in adapter.poll("tu-phap", receive)] == ["moi.edxml"]


def test_a_folder_that_does_not_exist_stops_the_start(tmp_path: Path) -> None:
    receive = Receive(mode="push", adapter="file", url=(tmp_path / "khong-co").as_uri())
    with pytest.raises(AdapterMisconfigured) as refused:
        FileDropAdapter().check("tu-phap", receive)
    assert "system tu-phap" in refused.value.detail and "receive.url" in refused.value.detail
