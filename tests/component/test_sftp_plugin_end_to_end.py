"""The example third-party adapter, installed with pip and named in the directory, delivers
a document end to end: submitted over REST, written into the receiver's SFTP folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.query import message_view
from routing.directory import Directory
from tests.sftp_server import PASSWORD, USER, run_sftp_server
from tests.support import DISTRICT, KEYS, PROVINCE, body, document, key_hash, run_hub, wait_until


def directory(receive: dict[str, Any]) -> Directory:
    return Directory.from_dict({
        "organizations": [
            {"code": PROVINCE, "name": "UBND thành phố Huế", "level": "province"},
            {"code": DISTRICT, "name": "UBND huyện Phong Điền", "level": "district",
             "parent": PROVINCE},
        ],
        "systems": [
            {"id": "province", "organizations": [PROVINCE],
             "api_key_hashes": [key_hash(KEYS["province"])], "receive": {"mode": "pull"}},
            {"id": "phong-dien-drop", "organizations": [DISTRICT], "receive": receive},
        ],
    })


def test_a_document_reaches_the_sftp_folder_through_the_plugin(
        make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONG_DIEN_SFTP_PASSWORD", PASSWORD)
    with run_sftp_server(tmp_path / "sftp") as server:
        receive = {"mode": "push", "adapter": "sftp", "format": "json", "url": server.url,
                   "options": {"username": USER, "password_env": "PHONG_DIEN_SFTP_PASSWORD",
                               "host_key": server.host_key}}
        with run_hub(make_settings(), directory(receive)) as hub:
            sent = document(61, to=(DISTRICT,))
            r = httpx.post(f"{hub.url}/api/v1/documents", content=body(sent),
                           headers={"Authorization": f"Bearer {KEYS['province']}",
                                    "Content-Type": "application/json"})
            assert r.status_code == 202, r.text
            message_id = r.json()["id"]

            def state() -> str:
                view = message_view(hub.ctx.db, hub.ctx.settings, None, message_id)
                return str(view["deliveries"][0]["state"])

            wait_until(lambda: state() == "delivered", what="the SFTP delivery")
            [written] = server.files()
            assert written.name == f"{message_id}.json"
            assert written.read_bytes() == body(sent)
            view = message_view(hub.ctx.db, hub.ctx.settings, None, message_id)
            assert "SFTP wrote /incoming/" in view["deliveries"][0]["attempts"][0]["detail"]
