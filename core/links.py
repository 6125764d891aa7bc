"""Time-limited links to a package: an HMAC-signed, expiring token naming one message and
the unit it was sent to, for units told by e-mail (adapters/email_notify.py).

A token is `<message id>.<recipient>.<expiry, Unix seconds>.<signature>`, the signature
HMAC-SHA256 over the first three parts under the hub's link secret (settings `links`),
base64url without padding. Whoever holds the link may fetch the package until it expires:
the mail is the credential, so a link is as secret as the mailbox it was sent to.

    NotFound (link_invalid)   not a token, or not signed by this hub's secret
    NotFound (link_expired)   signed, but past its expiry
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass

from core.errors import HubError, NotFound
from core.settings import Links

# a secret shorter than this is refused at start-up: it could be guessed
MIN_SECRET_BYTES = 32
_PART = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class LinkClaim:
    message_id: str
    recipient: str
    expires: int


class LinkSigner:
    """Mints and reads link tokens under one secret."""

    def __init__(self, secret: bytes, ttl_s: float, public_url: str) -> None:
        self._secret = secret
        self.ttl_s = ttl_s
        self.public_url = public_url.rstrip("/")

    @classmethod
    def from_settings(cls, links: Links) -> LinkSigner | None:
        """The signer the settings describe, or None when links are off (no `public_url`).

        Raises HubError (`links_misconfigured`) when links are on and the environment
        variable `secret_env` names is unset or shorter than 32 bytes.
        """
        if not links.public_url:
            return None
        secret = os.environ.get(links.secret_env, "").encode("utf-8")
        if len(secret) < MIN_SECRET_BYTES:
            raise HubError(f"links: {links.secret_env} must hold a secret of at least "
                           f"{MIN_SECRET_BYTES} bytes (links.public_url is set)",
                           code="links_misconfigured")
        return cls(secret, links.ttl_s, links.public_url)

    def mint(self, message_id: str, recipient: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_s)
        body = f"{message_id}.{recipient}.{expires}"
        return f"{body}.{self._sign(body)}"

    def url(self, message_id: str, recipient: str, now: float | None = None) -> str:
        """The link a mail carries: the hub's public address and a fresh token."""
        return f"{self.public_url}/api/v1/links/{self.mint(message_id, recipient, now)}"

    def read(self, token: str, now: float | None = None) -> LinkClaim:
        """What a token names. Raises NotFound: `link_invalid` for a token this hub did not
        sign, `link_expired` for one past its expiry."""
        head, _, signature = token.rpartition(".")
        message_id, _, rest = head.partition(".")
        recipient, _, expiry = rest.rpartition(".")
        if not (_PART.match(message_id) and _PART.match(recipient) and expiry.isdigit()
                and hmac.compare_digest(signature, self._sign(head))):
            raise NotFound("the link is not one this hub made", code="link_invalid",
                           detail_vi="Đường dẫn không do trục này tạo ra")
        if int(expiry) < (time.time() if now is None else now):
            raise NotFound("the link has expired; ask the sender for the document again",
                           code="link_expired",
                           detail_vi="Đường dẫn đã hết hạn; đề nghị bên gửi gửi lại văn bản")
        return LinkClaim(message_id, recipient, int(expiry))

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, body.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
