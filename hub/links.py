"""Serving a package to the holder of a time-limited link (core/links.py): the package in the
form its recipient asked for, and an audit event saying it was fetched."""

from __future__ import annotations

from sqlalchemy import select

from core.errors import NotFound
from core.links import LinkSigner
from core.model import Form
from hub.auditing import append_about
from hub.delivery.payload import render
from hub.store.db import Database
from hub.store.models import Delivery, Message
from hub.store.raw import raw_of
from security import audit
from security.atrest import Sealer


def fetch_by_link(signer: LinkSigner | None, db: Database, sealer: Sealer, token: str
                  ) -> tuple[bytes, Form, str]:
    """The package a link names, its form and the hub's message id.

    Raises NotFound: `link_invalid` (links off, a token this hub did not sign, or one naming
    a delivery the hub does not have), `link_expired`.
    """
    if signer is None:
        raise NotFound("this hub makes no links", code="link_invalid",
                       detail_vi="Trục này không tạo đường dẫn tải văn bản")
    claim = signer.read(token)
    with db.transaction() as session:
        row = session.execute(
            select(Message, Delivery.form)
            .join(Delivery, Delivery.message_id == Message.id)
            .where(Message.id == claim.message_id, Delivery.recipient_org == claim.recipient)
            .limit(1)
        ).first()
        if row is None:
            raise NotFound("the link names no document this hub holds", code="link_invalid",
                           detail_vi="Đường dẫn không trỏ tới văn bản nào trên trục")
        message, form = row
        body = render(raw_of(sealer, message), Form(message.form), Form(form))
        append_about(session, message.id, [audit.PendingEvent(
            "message.link_fetched", actor=f"link:{claim.recipient}", message_id=message.id,
            detail={"recipient": claim.recipient, "expires": claim.expires})],
            recipients=[claim.recipient])
    return body, Form(form), message.id
