"""The egress gateway's mail path: one message handed to a registered mail relay, over a
connection to exactly the address the gateway checked.

`smtps://` speaks TLS from the first byte (RFC 8314), verified against the gateway's CA
bundle with the relay's name; `smtp://` (allowed only inside the internal zone) upgrades
with STARTTLS whenever the relay offers it. The gateway (security/egress.py) decides
whether the relay may be reached and translates what this module raises.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from typing import Any

from security.egress_policy import Route

# the name the hub gives itself in EHLO: never the machine's name (no lookup, no leak)
EHLO_NAME = "lienthong"


class _PinnedSmtps(smtplib.SMTP_SSL):
    """SMTP over TLS to a checked address, the certificate verified for the relay's name."""

    def __init__(self, server_name: str, **kwargs: Any) -> None:
        self._server_name = server_name
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self._server_name)


def send_mail(route: Route, context: ssl.SSLContext, *, sender: str,
              recipients: Sequence[str], message: bytes, timeout: float
              ) -> dict[str, tuple[int, bytes]]:
    """Hand `message` to the relay at `route`; returns the recipients it refused (the others
    have the message).

    Raises smtplib.SMTPException (SMTPRecipientsRefused when it took no recipient,
    SMTPResponseException for a refused step), OSError (no connection, a timeout) and
    ssl.SSLError (a failed handshake).
    """
    address = route.addresses[0]
    port = route.origin.port
    client: smtplib.SMTP
    if route.origin.scheme == "smtps":
        client = _PinnedSmtps(route.origin.host, local_hostname=EHLO_NAME, timeout=timeout,
                              context=context)
    else:
        client = smtplib.SMTP(local_hostname=EHLO_NAME, timeout=timeout)
    try:
        client.connect(address, port)
        client.ehlo()
        if route.origin.scheme == "smtp" and client.has_extn("starttls"):
            # starttls verifies the certificate for the name connect() was given: the relay's
            # name, not the checked address connected to
            client._host = route.origin.host  # type: ignore[attr-defined]
            client.starttls(context=context)
            client.ehlo()
        return client.sendmail(sender, list(recipients), message)
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
