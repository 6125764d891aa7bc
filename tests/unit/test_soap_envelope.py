"""SOAP pieces without a server: envelopes, WS-Security tokens, faults, the WSDL."""

from __future__ import annotations

from pathlib import Path

import pytest
import zeep
from lxml import etree

from core.errors import (
    AuthenticationFailed,
    FieldError,
    HostileInput,
    MalformedInput,
    SoapMustUnderstand,
    SoapVersionMismatch,
    UnsupportedMediaType,
    ValidationFailed,
)
from core.settings import Limits
from hub.api.soap.envelope import read_envelope, version_for
from hub.api.soap.faults import fault, http_status
from hub.api.soap.names import EDXML, LT, SOAP11, SOAP12
from hub.api.soap.operations import inline_package
from hub.api.soap.reply import envelope as reply_envelope
from hub.api.soap.wsdl import wsdl_document
from hub.api.soap.wssecurity import username_token
from schemas.xmlparser import parse_xml
from tests.soap_support import envelope, read_fault, security

LIMITS = Limits()


def read(data: bytes, version=SOAP12):
    return read_envelope(data, version, "", LIMITS)


def test_version_and_action_from_the_http_headers() -> None:
    assert version_for('application/soap+xml; charset=utf-8; action="urn:a/GetTrace"',
                       None) == (SOAP12, "urn:a/GetTrace")
    assert version_for("text/xml; charset=utf-8", '"urn:a/GetTrace"') == (SOAP11,
                                                                         "urn:a/GetTrace")
    assert version_for("TEXT/XML", None) == (SOAP11, "")
    with pytest.raises(UnsupportedMediaType):
        version_for("application/json", None)
    with pytest.raises(UnsupportedMediaType):
        version_for(None, None)


def test_the_operation_element_and_header_blocks_are_found() -> None:
    request = read(envelope("<!-- hi --><lt:GetTrace><lt:MessageId>m</lt:MessageId></lt:GetTrace>",
                            security("u", "p")))
    assert request.operation_name == "GetTrace"
    assert [etree.QName(h).localname for h in request.headers] == ["Security"]
    assert username_token(request).username == "u"


def test_envelope_shape_is_checked() -> None:
    with pytest.raises(SoapVersionMismatch):
        read(envelope("<lt:GetTrace/>", version="1.1"))
    with pytest.raises(SoapVersionMismatch):
        read(b"<Envelope/>")
    with pytest.raises(MalformedInput) as caught:
        read(b"<GetTrace/>")
    assert caught.value.code == "soap_envelope_invalid"
    with pytest.raises(MalformedInput) as caught:
        read(envelope(""))
    assert caught.value.code == "soap_body_invalid"
    with pytest.raises(HostileInput) as caught:
        read(b'<!DOCTYPE x [<!ENTITY a "b">]>' + envelope("<lt:GetTrace/>").split(b"\n", 1)[1])
    assert caught.value.code == "xml_doctype"


def test_must_understand_is_honoured_for_unknown_headers_only() -> None:
    unknown = '<x:Tx xmlns:x="urn:x" soap:mustUnderstand="1"/>'
    with pytest.raises(SoapMustUnderstand):
        read(envelope("<lt:GetTrace/>", unknown))
    optional = '<x:Tx xmlns:x="urn:x" soap:mustUnderstand="false"/>'
    addressing = ('<wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing" '
                  'soap:mustUnderstand="true">a</wsa:Action>')
    assert read(envelope("<lt:GetTrace/>", optional + addressing)).operation_name == "GetTrace"


def test_username_token_forms() -> None:
    assert username_token(read(envelope("<lt:GetTrace/>"))) is None
    no_type = security("sys", "key").replace(' Type="', ' data-type="')
    assert username_token(read(envelope("<lt:GetTrace/>", no_type))).password == "key"
    with pytest.raises(AuthenticationFailed) as caught:
        username_token(read(envelope("<lt:GetTrace/>", security("sys", "x", digest=True))))
    assert caught.value.code == "password_digest_unsupported"
    no_password = security("sys", "key").split("<wsse:Password")[0] + \
        "</wsse:UsernameToken></wsse:Security>"
    with pytest.raises(AuthenticationFailed) as caught:
        username_token(read(envelope("<lt:GetTrace/>", no_password)))
    assert caught.value.code == "malformed_credentials"


@pytest.mark.parametrize("version", [SOAP11, SOAP12])
def test_faults_carry_code_sentences_and_field_errors(version) -> None:
    exc = ValidationFailed(
        "2 fields are wrong", detail_vi="2 trường sai",
        errors=[FieldError("/edXML/Subject", "too long", "quá dài", line=12),
                FieldError("/edXML/From", "missing")])
    data = reply_envelope(version, fault(version, exc))
    got = read_fault(data)
    assert got.soap_code == ("Client" if version is SOAP11 else "Sender")
    assert (got.code, got.message, got.message_vi) == (
        "validation_failed", "2 fields are wrong", "2 trường sai")
    assert got.errors == [
        {"Path": "/edXML/Subject", "Message": "too long", "MessageVi": "quá dài", "Line": "12"},
        {"Path": "/edXML/From", "Message": "missing"}]
    assert http_status(exc, challenge=True) == 500
    assert http_status(AuthenticationFailed("no"), challenge=True) == 401
    assert http_status(AuthenticationFailed("no"), challenge=False) == 500


def test_server_faults_for_hub_side_errors() -> None:
    from core.errors import ServiceUnavailable

    got = read_fault(reply_envelope(SOAP12, fault(SOAP12, ServiceUnavailable("db down"))))
    assert (got.soap_code, got.code) == ("Receiver", "service_unavailable")


def test_inline_package_keeps_the_package_and_drops_the_envelope_namespaces() -> None:
    package = (f'<edXML xmlns="{EDXML}"><!-- c --><edXML:edXMLEnvelope xmlns:edXML="{EDXML}">'
               '<edXML:Subject a="1">Văn bản &amp; ý kiến</edXML:Subject>'
               "</edXML:edXMLEnvelope></edXML>")
    request = read(envelope(f"<lt:SendDocument>{package}</lt:SendDocument>"))
    raw = inline_package(request, request.operation[0])
    assert raw.startswith(b"<?xml")
    root = parse_xml(raw, max_depth=10, max_attributes=5, max_bytes=10_000)
    assert root.tag == f"{{{EDXML}}}edXML"
    assert b"soap-envelope" not in raw and LT.encode() not in raw
    assert root.findtext(f".//{{{EDXML}}}Subject") == "Văn bản & ý kiến"
    assert b"<!-- c -->" in raw


def test_wsdl_points_at_the_address_and_loads_in_zeep(tmp_path: Path) -> None:
    document = wsdl_document("https://lgsp.hue.gov.vn/lienthong/soap")
    path = tmp_path / "service.wsdl"
    path.write_bytes(document)
    client = zeep.Client(str(path))
    ports = client.wsdl.services["LienthongService"].ports
    assert {p.binding_options["address"] for p in ports.values()} == {
        "https://lgsp.hue.gov.vn/lienthong/soap"}
    fault = client.get_element(f"{{{LT}}}HubFault")  # raises when the WSDL lacks it
    assert [name for name, _ in fault.type.elements] == [
        "Code", "Title", "Status", "Message", "MessageVi", "Error"]
