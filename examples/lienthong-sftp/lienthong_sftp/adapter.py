"""The `sftp` adapter: writes each package into a folder on the receiver's SFTP server.

    receive:
      mode: push
      adapter: sftp
      format: edxml
      url: sftp://qlvb.phongdien.hue.gov.vn:22/incoming     # registered with the egress
      options:
        username: lienthong
        password_env: QLVB_PHONG_DIEN_SFTP_PASSWORD        # or client_key: /etc/lienthong/id
        host_key: "ssh-ed25519 AAAA..."                    # the server's key, pinned

Each package is written as `<hub message id>.edxml` (or `.json`) in the URL's folder,
first under a dot-name and then renamed, so the system watching the folder never reads
half a file and a repeated delivery replaces the file rather than adding a second one.

The adapter opens no connection itself: it asks the hub's egress gateway for a socket to the
system's registered `sftp://` destination (checked like any request: registered for this
system, addresses vetted, the connect timeout) and runs SSH over it.

Errors: a refused login, a missing folder or a denied write are PermanentError (an
operator must act); a dropped connection, a server that closes at once (sshd's MaxStartups
when busy), or the timeout running out are TransientError.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
from urllib.parse import unquote, urlsplit

import asyncssh
from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.base import Capabilities, DeliveryResult, OutboundDelivery, delivery_options
from core.errors import AdapterMisconfigured, DeliveryRejected, TransientError
from routing.directory import Receive
from security.egress import Egress


class SftpOptions(BaseModel):
    """`receive.options` of an sftp system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(min_length=1)
    password_env: str | None = None
    client_key: str | None = None
    host_key: str = Field(min_length=16, description="the server's public key, pinned")

    @model_validator(mode="after")
    def _one_credential(self) -> SftpOptions:
        if not (self.password_env or self.client_key):
            raise ValueError("set password_env (a variable holding the password) or "
                             "client_key (a private key file)")
        return self


class SftpAdapter:
    name = "sftp"
    options = SftpOptions
    capabilities = Capabilities(push=True, poll=False, forms=("json", "edxml"))

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    def check(self, system_id: str, receive: Receive) -> None:
        """Raises AdapterMisconfigured when receive.url is not an sftp:// URL with a folder,
        or the password variable is not set."""
        url = receive.url or ""
        parts = urlsplit(url)
        if parts.scheme != "sftp" or not parts.hostname or not parts.path.strip("/"):
            raise AdapterMisconfigured(
                f"system {system_id}: receive.url {url!r} is not sftp://HOST[:PORT]/FOLDER")
        opts = SftpOptions.model_validate(receive.options)
        if opts.password_env and not os.environ.get(opts.password_env):
            raise AdapterMisconfigured(
                f"system {system_id}: receive.options.password_env: the variable "
                f"{opts.password_env} is not set")

    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        url = delivery.endpoint.url or ""
        opts = delivery_options(SftpOptions, delivery)
        timeout = delivery.endpoint.timeout_s or self._egress.default_timeout
        sock = self._egress.for_system(delivery.system_id).connect(url, timeout=timeout)
        folder = unquote(urlsplit(url).path) or "/"
        name = f"{delivery.message_id}.{'edxml' if 'xml' in delivery.media_type else 'json'}"
        try:
            return asyncio.run(asyncio.wait_for(
                _upload(sock, opts, folder, name, delivery.payload), timeout))
        except TimeoutError as exc:
            raise TransientError(f"{url}: no answer within {timeout:g}s") from exc
        except asyncssh.PermissionDenied as exc:
            raise DeliveryRejected(f"{url}: the server refused the login of "
                                   f"{opts.username}: {exc.reason}") from exc
        except asyncssh.HostKeyNotVerifiable as exc:
            raise DeliveryRejected(f"{url}: the server's key is not the pinned "
                                   "receive.options.host_key") from exc
        except asyncssh.SFTPError as exc:
            if exc.code in (asyncssh.FX_PERMISSION_DENIED, asyncssh.FX_NO_SUCH_FILE,
                            asyncssh.FX_NO_SUCH_PATH):
                raise DeliveryRejected(f"{url}: {exc.reason}") from exc
            raise TransientError(f"{url}: SFTP error {exc.code}: {exc.reason}") from exc
        except (asyncssh.Error, ConnectionError, OSError) as exc:
            raise TransientError(f"{url}: {type(exc).__name__}: {exc}"[:300]) from exc
        finally:
            sock.close()

    def close(self) -> None:
        pass


async def _upload(sock: object, opts: SftpOptions, folder: str, name: str,
                  payload: bytes) -> DeliveryResult:
    password = os.environ.get(opts.password_env) if opts.password_env else None
    known = ([asyncssh.import_public_key(opts.host_key)], [], [])
    async with asyncssh.connect(
            sock=sock, username=opts.username, password=password,
            client_keys=[opts.client_key] if opts.client_key else None,
            known_hosts=known, config=None, agent_path=None, preferred_auth=(
                "publickey" if opts.client_key else "password")) as conn:
        async with conn.start_sftp_client() as sftp:
            final = posixpath.join(folder, name)
            part = posixpath.join(folder, f".{name}.part")
            async with sftp.open(part, "wb") as f:
                await f.write(payload)
            await sftp.posix_rename(part, final)
    return DeliveryResult(f"SFTP wrote {final} ({len(payload)} bytes)")
