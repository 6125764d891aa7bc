"""The SOAP push adapter's decisions, on local WSDL files (no network)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import zeep.exceptions

from adapters.soap_push import SoapCall, _fault_error
from core.errors import DeliveryRejected, TransientError
from routing.directory import SoapEndpoint
from security.egress import Egress
from tests.legacy_soap import WSDL as LEGACY_WSDL

HUB_WSDL = Path(__file__).resolve().parents[2] / "schemas" / "wsdl" / "lienthong.wsdl"


def call(wsdl: str | Path, **endpoint: str) -> SoapCall:
    return SoapCall(Egress().for_system("legacy"), SoapEndpoint(wsdl=str(wsdl), **endpoint),
                    "http://127.0.0.1:9/soap", 5.0)


def test_a_hubs_service_gets_the_exact_bytes_and_media_type() -> None:
    soap = call(HUB_WSDL)
    args, kwargs = soap.arguments("SendDocument", b"{\n}", "application/json")
    assert (args, kwargs) == ([], {"PackageBase64": b"{\n}", "MediaType": "application/json"})
    assert soap.operation_for("status", "SendDocument") == "SendStatus"
    assert soap.operation_for("document", "SendDocument") == "SendDocument"
    envelope = soap.client.create_message(soap.proxy, "SendDocument", **kwargs)
    text = envelope.findtext(".//{https://lienthong.example/soap/v1}PackageBase64")
    assert base64.b64decode(text) == b"{\n}"


def test_a_legacy_service_gets_the_package_in_its_required_string_field(tmp_path: Path) -> None:
    wsdl = tmp_path / "qlvb.wsdl"
    wsdl.write_text(LEGACY_WSDL.replace("ADDRESS", "http://127.0.0.1:9/qlvb"), "utf-8")
    soap = call(wsdl)
    args, kwargs = soap.arguments("NhanVanBan", "<edXML>Văn bản</edXML>".encode(),
                                  "application/xml")
    assert kwargs == {"NoiDung": "<edXML>Văn bản</edXML>"}
    with pytest.raises(DeliveryRejected, match="no operation 'GuiVanBan'"):
        soap.operation_for("document", "GuiVanBan")
    with pytest.raises(DeliveryRejected, match="no service"):
        call(wsdl, service="Other")


def test_a_local_wsdl_may_not_reach_outside_its_directory(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    wsdl = tmp_path / "inner" / "svc.wsdl"
    wsdl.write_text(HUB_WSDL.read_text("utf-8").replace(
        'schemaLocation="lienthong-types.xsd"', 'schemaLocation="../secret.xsd"'), "utf-8")
    (tmp_path / "secret.xsd").write_text("<x/>", "utf-8")
    with pytest.raises(DeliveryRejected) as caught:
        call(wsdl)
    assert caught.value.code == "soap_wsdl_external"


def test_a_hostile_wsdl_is_refused_by_the_hardened_parser(tmp_path: Path) -> None:
    wsdl = tmp_path / "bomb.wsdl"
    wsdl.write_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><definitions>&a;</definitions>', "utf-8")
    with pytest.raises(DeliveryRejected) as caught:
        call(wsdl)
    assert caught.value.code == "xml_doctype"


@pytest.mark.parametrize("code,kind", [
    ("soap:Client", DeliveryRejected), ("s:Client.Authentication", DeliveryRejected),
    ("{http://www.w3.org/2003/05/soap-envelope}Sender", DeliveryRejected),
    ("env:MustUnderstand", DeliveryRejected), ("soap:Server", TransientError),
    ("Receiver", TransientError), (None, TransientError),
])
def test_fault_classes(code: str | None, kind: type) -> None:
    error = _fault_error(zeep.exceptions.Fault("nope", code=code), "http://x")
    assert type(error) is kind
    assert "nope" in error.detail
