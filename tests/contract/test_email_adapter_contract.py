"""The e-mail adapter passes the adapter contract against a local SMTP server, and says
what a unit without a system needs to know."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from adapters.base import Adapter, OutboundDelivery
from adapters.email_notify import EmailNotifyAdapter
from adapters.testing import BUSY, REFUSE, SLOW, SYSTEM, UNREACHABLE, AdapterContract
from routing.directory import MailRecipients, Receive
from security.egress import Egress
from tests.smtp_support import Mailbox, run_smtp
from tests.support import free_port

TOLD = MailRecipients(to=("vanthu.phongthu@hue.gov.vn",), sender="lgsp@hue.gov.vn")


class TestEmailNotify(AdapterContract):
    @pytest.fixture(autouse=True)
    def _smtp(self) -> Iterator[None]:
        with run_smtp() as box:
            self.box: Mailbox = box
            yield

    def make_adapter(self, egress: Egress) -> Adapter:
        return EmailNotifyAdapter(egress)

    def endpoint(self, behaviour: str) -> Receive:
        url = self.box.url
        if behaviour == UNREACHABLE:
            url = f"smtp://127.0.0.1:{free_port()}"
        elif behaviour == BUSY:
            self.box.plan.append("451 4.3.0 mailbox busy, try later")
        elif behaviour == REFUSE:
            self.box.plan.append("550 5.1.1 no such mailbox")
        elif behaviour == SLOW:
            self.box.delay_s = 3.0
        return Receive(mode="push", adapter="email", url=url, email=TOLD)

    def delivered(self) -> list[bytes]:
        return self.box.attachments()

    def message_ids(self) -> list[str]:
        return self.box.message_ids()

    def misconfigured(self) -> Receive:
        return Receive(mode="push", adapter="email", url="https://mail.hue.gov.vn", email=TOLD)


def test_the_mail_tells_the_unit_what_arrived_in_both_languages() -> None:
    payload = ('{"documentId": "000.00.00.H57,2026/11/27,15/QĐ-UBND", "subject": "Về việc '
               'phòng chống bão", "dueDate": "2026/12/05"}').encode()
    with run_smtp() as box:
        egress = Egress({SYSTEM: [box.url]}, default_timeout=5.0)
        delivery = OutboundDelivery(
            message_id=str(uuid.uuid4()), delivery_id=str(uuid.uuid4()), kind="document",
            sender="000.00.00.H57", recipient="000.01.21.H57", system_id=SYSTEM,
            document_id="000.00.00.H57,2026/11/27,15/QĐ-UBND", attempt=1, payload=payload,
            media_type="application/json",
            endpoint=Receive(mode="push", adapter="email", url=box.url, email=TOLD))
        try:
            result = EmailNotifyAdapter(egress).deliver(delivery)
        finally:
            egress.close()
        [mail] = box.messages
    assert box.envelopes == [("lgsp@hue.gov.vn", ["vanthu.phongthu@hue.gov.vn"])]
    assert mail["Subject"] == "[Liên thông] Văn bản đến: Về việc phòng chống bão"
    assert mail["X-Lienthong-Message-Id"] == delivery.message_id
    assert delivery.delivery_id in mail["Message-ID"]
    text = mail.get_body(("plain",)).get_content()
    assert "Trích yếu / Subject: Về việc phòng chống bão" in text
    assert "Hạn xử lý / Due: 2026/12/05" in text
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == f"{delivery.message_id}.json"
    assert attached.get_payload(decode=True) == payload
    assert "vanthu.phongthu@hue.gov.vn" in result.detail


def test_a_relay_that_is_not_smtp_is_refused_at_start_up() -> None:
    from core.errors import AdapterMisconfigured

    with pytest.raises(AdapterMisconfigured) as refused:
        EmailNotifyAdapter(Egress()).check(
            "xa-phong-thu", Receive(mode="push", adapter="email", url="smtp://relay.hue.gov.vn"))
    assert "xa-phong-thu" in refused.value.detail and "receive.email" in refused.value.detail


def test_a_subject_with_line_breaks_cannot_add_a_header() -> None:
    from adapters.email_notify import compose

    payload = b'{"subject": "Kh\\u1ea9n\\r\\nBcc: ai.do@example.vn"}'
    mail = compose(OutboundDelivery(
        message_id="m-1", delivery_id="d-1", kind="document", sender="000.00.00.H57",
        recipient="000.01.21.H57", system_id=SYSTEM, document_id=None, attempt=1,
        payload=payload, media_type="application/json",
        endpoint=Receive(mode="push", adapter="email", url="smtp://127.0.0.1:25", email=TOLD)))
    assert mail["Bcc"] is None
    assert mail["Subject"] == "[Liên thông] Văn bản đến: Khẩn Bcc: ai.do@example.vn"
