"""The example third-party adapter (examples/lienthong-sftp), found through its entry
point, passes the same kit as the built-in adapters, against a real SFTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.base import Adapter
from adapters.registry import discover
from adapters.testing import REFUSE, SLOW, UNREACHABLE, AdapterContract
from routing.directory import Receive
from security.egress import Egress
from tests.sftp_server import PASSWORD, USER, SftpServer, run_sftp_server
from tests.support import free_port

PASSWORD_ENV = "CONTRACT_SFTP_PASSWORD"


class TestSftpPlugin(AdapterContract):
    payload = b'<?xml version="1.0" encoding="UTF-8"?><edXML>th\xe1\xbb\xad</edXML>'
    media_type = "application/xml"

    @pytest.fixture(autouse=True)
    def _server(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        with run_sftp_server(tmp_path) as server:
            self.server: SftpServer = server
            yield

    def make_adapter(self, egress: Egress) -> Adapter:
        factory: Any = discover()["sftp"].load()  # through the entry point, as the hub does
        adapter: Adapter = factory(egress)
        return adapter

    def options(self) -> dict[str, Any]:
        return {"username": USER, "password_env": PASSWORD_ENV,
                "host_key": self.server.host_key}

    def endpoint(self, behaviour: str) -> Receive:
        url = self.server.url
        if behaviour == UNREACHABLE:
            url = f"sftp://127.0.0.1:{free_port()}/incoming"
        elif behaviour != "accept":
            self.server.behaviour = behaviour
        if behaviour == SLOW:
            self.server.slow_s = 3.0
        return Receive(mode="push", adapter="sftp", format="edxml", url=url,
                       options=self.options())

    def delivered(self) -> list[bytes]:
        return [p.read_bytes() for p in self.server.files()]

    def message_ids(self) -> list[str]:
        # each delivery renames a file named by the message id into place
        return [name.rsplit(".", 1)[0] for name in self.server.placed]

    def misconfigured(self) -> Receive:
        return Receive(mode="push", adapter="sftp", url="sftp://qlvb.invalid",
                       options=self.options())

    def invalid_options(self) -> tuple[dict[str, Any], str]:
        return {"username": USER, "host_key": self.server.host_key, "port": 22}, "port"

    def test_a_repeated_delivery_replaces_the_file_rather_than_adding_one(self) -> None:
        self.deliver("accept", times=2)
        [only] = self.server.files()
        assert only.read_bytes() == self.payload
        assert only.suffix == ".edxml"
        assert self.server.logins == [USER, USER]

    def test_a_wrong_host_key_is_refused_for_good(self) -> None:
        other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        endpoint = self.endpoint("accept").model_copy(
            update={"options": {**self.options(), "host_key": other}})
        from core.errors import PermanentError
        with pytest.raises(PermanentError, match="pinned receive.options.host_key"):
            self.deliver("accept", endpoint=endpoint)
        assert self.server.files() == []

    def test_refusal_reason_reaches_the_attempt_log(self) -> None:
        from core.errors import PermanentError
        with pytest.raises(PermanentError, match="writing is not allowed here"):
            self.deliver(REFUSE)
