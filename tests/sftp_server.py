"""A real SFTP server on loopback (asyncssh), for the example sftp adapter's tests.

Behaviours, as the adapter kit names them: "accept"; "busy" (the server drops each
connection at once, as sshd does past MaxStartups); "refuse" (writing is denied);
"slow" (the login takes `slow_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

USER, PASSWORD = "lienthong", "mat-khau-sftp"


@dataclass
class SftpServer:
    root: Path
    port: int = 0
    host_key: str = ""
    behaviour: str = "accept"
    slow_s: float = 3.0
    logins: list[str] = field(default_factory=list)
    # every file name a client renamed into place, in order (one per delivery)
    placed: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"sftp://127.0.0.1:{self.port}/incoming"

    @property
    def folder(self) -> Path:
        return self.root / "incoming"

    def files(self) -> list[Path]:
        """The files the receiving system would see (no half-written ones)."""
        return sorted(p for p in self.folder.iterdir() if not p.name.startswith("."))


@contextlib.contextmanager
def run_sftp_server(root: Path) -> Iterator[SftpServer]:
    server = SftpServer(root)
    server.folder.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519")
    server.host_key = key.export_public_key().decode().strip()
    loop = asyncio.new_event_loop()

    class Auth(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            if server.behaviour == "busy":
                conn.close()

        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        async def validate_password(self, username: str, password: str) -> bool:
            if server.behaviour == "slow":
                await asyncio.sleep(server.slow_s)
            server.logins.append(username)
            return (username, password) == (USER, PASSWORD)

    class Files(asyncssh.SFTPServer):
        def __init__(self, chan: Any) -> None:
            super().__init__(chan, chroot=str(root).encode())

        def open(self, path: bytes, pflags: int, attrs: Any) -> Any:
            if server.behaviour == "refuse":
                raise asyncssh.SFTPPermissionDenied("writing is not allowed here")
            return super().open(path, pflags, attrs)

        def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
            super().posix_rename(oldpath, newpath)
            server.placed.append(newpath.decode().rsplit("/", 1)[-1])

    async def start() -> Any:
        return await asyncssh.listen("127.0.0.1", 0, server_host_keys=[key],
                                     server_factory=Auth, sftp_factory=Files,
                                     allow_scp=False)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    acceptor = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    server.port = acceptor.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        async def stop() -> None:
            acceptor.close()
            await acceptor.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
