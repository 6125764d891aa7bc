"""A unit without a system of its own is told by e-mail: a document submitted to the hub
arrives in its mailbox, summarised and attached, through the egress gateway."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest

from core.settings import Settings
from routing.directory import Directory
from tests.smtp_support import run_smtp
from tests.support import (
    COMMUNE,
    KEYS,
    Receiver,
    body,
    document,
    events_after,
    free_port,
    hue_directory_data,
    last_seq,
    run_hub,
    wait_until,
)


def test_a_document_for_a_commune_without_a_system_arrives_by_mail(
        make_settings: Callable[..., Settings], receiver: Receiver) -> None:
    with run_smtp() as box:
        data = hue_directory_data(receiver.url)
        for system in data["systems"]:
            if system["id"] == "commune":
                system["receive"] = {"mode": "push", "adapter": "email", "url": box.url,
                                     "email": {"to": ["vanthu.phongthu@hue.gov.vn"],
                                               "sender": "lgsp@hue.gov.vn"}}
        with run_hub(make_settings(embedded_worker=True), Directory.from_dict(data)) as hub:
            doc = document(70, to=(COMMUNE,))
            r = httpx.post(f"{hub.url}/api/v1/documents", content=body(doc),
                           headers={"Authorization": f"Bearer {KEYS['province']}",
                                    "Content-Type": "application/json"})
            assert r.status_code == 202, r.text
            wait_until(lambda: box.messages, what="the mail")
            message = httpx.get(f"{hub.url}/api/v1/messages/{r.json()['id']}",
                                headers={"Authorization": f"Bearer {KEYS['province']}"}).json()
            wait_until(lambda: httpx.get(
                f"{hub.url}/api/v1/messages/{r.json()['id']}",
                headers={"Authorization": f"Bearer {KEYS['province']}"}
            ).json()["deliveries"][0]["state"] == "delivered", what="the delivery recorded")
    [mail] = box.messages
    assert mail["To"] == "vanthu.phongthu@hue.gov.vn"
    assert doc["subject"] in mail["Subject"]
    assert mail["X-Lienthong-Message-Id"] == message["id"]
    [attached] = list(mail.iter_attachments())
    assert json.loads(attached.get_payload(decode=True))["documentId"] == doc["documentId"]


def test_the_mail_carries_a_time_limited_link_that_serves_the_package_once_signed(
        make_settings: Callable[..., Settings], receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_LINK_SECRET", "bi-mat-cua-truc-lien-thong-hue-2026")
    port = free_port()
    settings = make_settings(embedded_worker=True,
                             links={"public_url": f"http://127.0.0.1:{port}", "ttl_s": 600})
    with run_smtp() as box:
        data = hue_directory_data(receiver.url)
        for system in data["systems"]:
            if system["id"] == "commune":
                system["receive"] = {"mode": "push", "adapter": "email", "url": box.url,
                                     "email": {"to": ["vanthu.phongthu@hue.gov.vn"],
                                               "sender": "lgsp@hue.gov.vn", "attach": False}}
        with run_hub(settings, Directory.from_dict(data), port=port) as hub:
            doc = document(71, to=(COMMUNE,))
            r = httpx.post(f"{hub.url}/api/v1/documents", content=body(doc),
                           headers={"Authorization": f"Bearer {KEYS['province']}",
                                    "Content-Type": "application/json"})
            assert r.status_code == 202, r.text
            wait_until(lambda: box.messages, what="the mail")
            [mail] = box.messages
            assert list(mail.iter_attachments()) == []
            text = mail.get_body(("plain",)).get_content()
            [link] = re.findall(rf"{re.escape(hub.url)}/api/v1/links/\S+", text)
            before = last_seq(hub)

            fetched = httpx.get(link)
            assert fetched.status_code == 200, fetched.text
            assert json.loads(fetched.content)["documentId"] == doc["documentId"]
            assert [(e["event"], e["message_id"]) for e in events_after(hub, before)] \
                == [("message.link_fetched", r.json()["id"])]

            forged = httpx.get(link.replace(COMMUNE, "000.00.02.H57"))
            assert forged.status_code == 404
            assert forged.json()["code"] == "link_invalid"
