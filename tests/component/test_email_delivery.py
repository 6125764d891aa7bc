"""A unit without a system of its own is told by e-mail: a document submitted to the hub
arrives in its mailbox, summarised and attached, through the egress gateway."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from core.settings import Settings
from routing.directory import Directory
from tests.smtp_support import run_smtp
from tests.support import (
    COMMUNE,
    KEYS,
    Receiver,
    body,
    document,
    hue_directory_data,
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
