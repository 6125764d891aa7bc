"""E-mail notification: a unit without a system of its own is told by e-mail, through the
province's mail relay reached via the egress gateway.

The system's `receive.url` is the relay (`smtps://relay.hue.gov.vn:465`, or `smtp://` inside
the internal zone) and `receive.email` who is told (`to`, `sender`, `attach`). The mail
says, in Vietnamese and English, who sent which document, its subject and due date, and
carries the package (`.json` or `.edxml`, as `receive.format` asks) as an attachment
(unless `attach: false`) and, when the hub has links on (settings `links`), a time-limited
signed link to fetch it (core/links.py, `GET /api/v1/links/{token}`); its
Message-ID is derived from the delivery id, so a mail sent twice (delivery is at least
once) is recognisably the same.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from adapters.base import Capabilities, DeliveryResult, OutboundDelivery
from core.errors import AdapterMisconfigured, DeliveryRejected, HubError
from core.model import Form
from routing.directory import Receive
from security.egress import Egress

MAIL_SCHEMES = ("smtp", "smtps")


class EmailNotifyAdapter:
    name = "email"
    capabilities = Capabilities(push=True, poll=False, forms=("json", "edxml"))
    options = None  # configured by receive.url and its own section of receive

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    def check(self, system_id: str, receive: Receive) -> None:
        """Raises AdapterMisconfigured when `receive.url` is not an smtp:// or smtps:// relay
        or `receive.email` says nobody to tell."""
        url = receive.url or ""
        parts = urlsplit(url)
        if parts.scheme not in MAIL_SCHEMES or not parts.hostname:
            raise AdapterMisconfigured(
                f"system {system_id}: receive.url {url!r} is not a mail relay "
                "(smtps://host:465, or smtp://host:25 inside the internal zone)")
        if receive.email is None:
            raise AdapterMisconfigured(
                f"system {system_id}: receive.email is not set; it says whom to tell "
                "(to, sender)")

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        """Hand the mail to the relay. Raises what the gateway raises (EgressDenied,
        EgressTimeout, EgressUnreachable, MailRefused, MailDeferred), DeliveryRejected when
        the system has no relay or recipients."""
        receive = delivery.endpoint
        if not receive.url or receive.email is None:
            raise DeliveryRejected(f"system {delivery.system_id}: no mail relay or recipients")
        mail = compose(delivery)
        refused = self._egress.for_system(delivery.system_id).send_mail(
            receive.url, sender=receive.email.sender, recipients=receive.email.to,
            message=mail.as_bytes(policy=SMTP), timeout=receive.timeout_s)
        told = [a for a in receive.email.to if a not in refused]
        note = f"; refused: {', '.join(sorted(refused))}" if refused else ""
        return DeliveryResult(f"mailed to {', '.join(told)}{note}")

    def close(self) -> None:
        pass


def compose(delivery: OutboundDelivery) -> EmailMessage:
    """The mail for one delivery: the summary as text, the package attached when asked."""
    email = delivery.endpoint.email
    if email is None:
        raise DeliveryRejected(f"system {delivery.system_id}: receive.email is not set")
    header = _summary(delivery)
    # one line: a header value, and nothing the sender wrote may start a header of its own
    subject = _line(header.get("subject") or delivery.document_id or delivery.message_id)
    mail = EmailMessage()
    mail["From"] = email.sender
    mail["To"] = ", ".join(email.to)
    if delivery.kind == "status":
        mail["Subject"] = f"[Liên thông] Trạng thái văn bản: {subject}"[:250]
    else:
        mail["Subject"] = f"[Liên thông] Văn bản đến: {subject}"[:250]
    mail["Message-ID"] = make_msgid(idstring=delivery.delivery_id, domain="lienthong")
    mail["X-Lienthong-Message-Id"] = delivery.message_id
    due = _line(header.get("dueDate") or "-")
    status = _line(header.get("statusCode") or "")
    lines = [
        f"Đơn vị gửi / From: {delivery.sender}",
        f"Đơn vị nhận / To: {delivery.recipient}",
        f"Số, ký hiệu / Document: {delivery.document_id or '-'}",
        f"Trích yếu / Subject: {subject}",
    ]
    if status:
        lines.append(f"Trạng thái / Status: {status} {_line(header.get('description') or '')}"
                     .rstrip())
    else:
        lines.append(f"Hạn xử lý / Due: {due}")
    lines += ["", f"Mã gói tin trên trục / Hub message id: {delivery.message_id}"]
    if delivery.link:
        lines.append(f"Tải văn bản (đường dẫn có thời hạn) / Fetch it (a time-limited link): "
                     f"{delivery.link}")
    if email.attach:
        lines.append("Gói tin văn bản đính kèm thư này. / The package is attached.")
    mail.set_content("\n".join(lines) + "\n")
    if email.attach:
        form = Form.JSON if delivery.media_type == Form.JSON.media_type else Form.EDXML
        extension = "json" if form is Form.JSON else "edxml"
        maintype, subtype = delivery.media_type.split("/", 1)
        mail.add_attachment(delivery.payload, maintype=maintype, subtype=subtype,
                            filename=f"{delivery.message_id}.{extension}")
    return mail


def _line(value: object) -> str:
    return " ".join(str(value).split())[:500]


def _summary(delivery: OutboundDelivery) -> dict[str, Any]:
    """The package's header fields in the JSON form; empty when the package cannot be read
    (the mail then names the document by its id)."""
    raw = delivery.payload
    if delivery.media_type != Form.JSON.media_type:
        from schemas.mapping import convert

        try:
            raw = convert(raw, Form.EDXML, Form.JSON)
        except HubError:
            return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
