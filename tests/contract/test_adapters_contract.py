"""The built-in push adapters pass the same contract a third-party adapter must pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.base import Adapter
from adapters.rest_push import RestPushAdapter
from adapters.soap_push import SoapPushAdapter
from adapters.testing import (
    ACCEPT,
    BUSY,
    REFUSE,
    SLOW,
    SYSTEM,
    UNREACHABLE,
    AdapterContract,
)
from adapters.vdxp import VdxpAdapter
from routing.directory import Receive, SoapEndpoint
from security.egress import Egress
from tests.legacy_soap import LegacyService, run_legacy_service
from tests.support import Receiver, free_port, run_receiver
from tests.vdxp_platform import PLATFORM_ID, PLATFORM_SECRET, SECRET_ENV, Platform, run_platform


class TestRestPush(AdapterContract):
    @pytest.fixture(autouse=True)
    def _receiver(self) -> Iterator[None]:
        with run_receiver() as receiver:
            self.receiver: Receiver = receiver
            yield

    def make_adapter(self, egress: Egress) -> Adapter:
        return RestPushAdapter(egress)

    def endpoint(self, behaviour: str) -> Receive:
        if behaviour == UNREACHABLE:
            return Receive(mode="push", url=f"http://127.0.0.1:{free_port()}/in")
        if behaviour in (BUSY, REFUSE):
            self.receiver.fail("/in", 503 if behaviour == BUSY else 400)
        if behaviour == SLOW:
            self.receiver.delay_s = 3.0
        return Receive(mode="push", url=f"{self.receiver.url}/in")

    def delivered(self) -> list[bytes]:
        return [r.body for r in self.receiver.at("/in")]

    def message_ids(self) -> list[str]:
        return self.receiver.message_ids("/in")

    def misconfigured(self) -> Receive:
        return Receive(mode="push", soap=SoapEndpoint(wsdl="http://qlvb.invalid/q?wsdl"))


class TestVdxp(AdapterContract):
    """The national platform adapter, against the fake platform (tests/vdxp_platform.py)."""

    @pytest.fixture(autouse=True)
    def _platform(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv(SECRET_ENV, PLATFORM_SECRET)
        with run_platform() as platform:
            self.platform: Platform = platform
            yield

    def make_adapter(self, egress: Egress) -> Adapter:
        return VdxpAdapter(egress)

    def endpoint(self, behaviour: str) -> Receive:
        url = self.platform.url
        if behaviour == UNREACHABLE:
            url = f"http://127.0.0.1:{free_port()}/vxp"
        elif behaviour in (BUSY, REFUSE):
            # busy: 503; a refusal: the platform's FAIL answer (in a 200)
            self.platform.fail("sendEdoc", 503 if behaviour == BUSY else 200)
        elif behaviour == SLOW:
            self.platform.delay_s = 3.0
        return Receive(mode="push", adapter="vdxp", url=url, format="edxml",
                       options={"system_id": PLATFORM_ID, "secret_env": SECRET_ENV})

    def delivered(self) -> list[bytes]:
        return [s.edxml for s in self.platform.sent]

    def message_ids(self) -> list[str]:
        return [s.filename.removesuffix(".edxml") for s in self.platform.sent]

    def invalid_options(self) -> tuple[dict[str, Any], str]:
        return {"system_id": PLATFORM_ID, "secret_env": SECRET_ENV, "secret": "x"}, "secret"

    def misconfigured(self) -> Receive:
        return Receive(mode="push", adapter="vdxp", url=self.platform.url, format="edxml",
                       options={"system_id": PLATFORM_ID})


class TestSoapPush(AdapterContract):
    @pytest.fixture(autouse=True)
    def _service(self) -> Iterator[None]:
        with run_legacy_service() as service:
            self.service: LegacyService = service
            yield

    def make_adapter(self, egress: Egress) -> Adapter:
        return SoapPushAdapter(egress)

    def endpoint(self, behaviour: str) -> Receive:
        wsdl = self.service.wsdl
        if behaviour == UNREACHABLE:
            wsdl = f"http://127.0.0.1:{free_port()}/qlvb?wsdl"
        elif behaviour in (BUSY, REFUSE):
            self.service.plan.append("server" if behaviour == BUSY else "client")
        elif behaviour == SLOW:
            self.service.slow_s = 3.0
            self.service.plan.append("slow")
        assert behaviour in (ACCEPT, BUSY, REFUSE, UNREACHABLE, SLOW)
        return Receive(mode="push", adapter="soap",
                       soap=SoapEndpoint(wsdl=wsdl, operation="NhanVanBan"))

    def delivered(self) -> list[bytes]:
        return [c.content.encode("utf-8") for c in self.service.accepted()]

    def message_ids(self) -> list[str]:
        return [c.headers.get("X-Lienthong-Message-Id", "") for c in self.service.accepted()]

    def misconfigured(self) -> Receive:
        return Receive(mode="push", adapter="soap", url="http://qlvb.invalid/soap")


def test_soap_push_sends_ws_security_credentials_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QLVB_HUONG_THUY_PASSWORD", "mat-khau-bi-mat")
    with run_legacy_service() as service:
        endpoint = Receive(mode="push", adapter="soap", soap=SoapEndpoint(
            wsdl=service.wsdl, operation="NhanVanBan", username="lgsp-hue",
            password_env="QLVB_HUONG_THUY_PASSWORD"))
        contract = TestSoapPush()
        egress = Egress({SYSTEM: [service.url]})
        adapter = SoapPushAdapter(egress)
        try:
            adapter.deliver(contract.outbound(endpoint))
        finally:
            adapter.close()
            egress.close()
        [call] = service.accepted()
        assert (call.username, call.password) == ("lgsp-hue", "mat-khau-bi-mat")


def test_a_missing_soap_password_stops_start_up(tmp_path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    from core.errors import HubError
    from core.settings import Settings
    from hub.context import HubContext
    from routing.directory import Directory

    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    directory = Directory.from_dict({
        "organizations": [{"code": "000.00.26.H57", "name": "x", "level": "district"}],
        "systems": [{"id": "legacy", "organizations": ["000.00.26.H57"], "receive": {
            "mode": "push", "adapter": "soap", "soap": {
                "wsdl": "http://127.0.0.1:9/q?wsdl", "username": "u",
                "password_env": "NO_SUCH_PASSWORD"}}}]})
    with pytest.raises(HubError, match="NO_SUCH_PASSWORD") as info:
        HubContext.build(Settings(database_url=f"sqlite:///{tmp_path}/h.db"), directory)
    assert info.value.code == "soap_credentials_missing"


def test_soap_username_without_password_variable_is_refused() -> None:
    with pytest.raises(ValueError, match="password_env"):
        SoapEndpoint(wsdl="http://x/q?wsdl", username="u")
