"""Hand-written SOAP 1.1 and 1.2 requests, as SoapUI sends them, and every kind of fault."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from security.audit_tables import AuditEvent
from tests.soap_support import LT, envelope, headers, read_fault, security
from tests.support import (
    DISTRICT,
    KEYS,
    LiveHub,
    Receiver,
    body,
    document,
    hue_directory,
    run_hub,
)

LIMIT = 64 * 1024


@pytest.fixture
def hub(make_settings, receiver: Receiver) -> Iterator[LiveHub]:
    settings = make_settings(limits={"max_body_bytes": LIMIT})
    with run_hub(settings, hue_directory(receiver.url)) as live:
        yield live


def post(hub: LiveHub, data: bytes, version: str = "1.2", operation: str = "GetOrganizations",
         **extra: str) -> httpx.Response:
    return httpx.post(f"{hub.url}/soap", content=data,
                      headers={**headers(version, operation), **extra}, timeout=30)


def rejections(hub: LiveHub) -> list[dict]:
    with hub.ctx.db.reading() as session:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.event == "message.rejected")
            .order_by(AuditEvent.seq)).scalars().all()
        return [json.loads(r.detail) | {"actor": r.actor} for r in rows]


ORGS = "<lt:GetOrganizations><lt:Level>district</lt:Level></lt:GetOrganizations>"


@pytest.mark.parametrize("version", ["1.2", "1.1"])
def test_soapui_style_request_with_username_token(hub: LiveHub, version: str) -> None:
    r = post(hub, envelope(ORGS, security("district", KEYS["district"]), version), version)
    assert r.status_code == 200, r.text
    expected = "application/soap+xml" if version == "1.2" else "text/xml"
    assert r.headers["content-type"].startswith(expected)
    assert f"<lt:Code>{DISTRICT}</lt:Code>".encode() in r.content
    assert b"UBND huy\xe1\xbb\x87n Phong \xc4\x90i\xe1\xbb\x81n" in r.content


def test_http_basic_authenticates_a_soap11_call(hub: LiveHub) -> None:
    basic = base64.b64encode(f"district:{KEYS['district']}".encode()).decode()
    r = post(hub, envelope("<lt:GetPendingDocumentIds/>", version="1.1"), "1.1",
             "GetPendingDocumentIds", Authorization=f"Basic {basic}")
    assert r.status_code == 200, r.text
    assert b"GetPendingDocumentIdsResponse" in r.content


def test_base64_package_is_stored_byte_for_byte(hub: LiveHub) -> None:
    # deliberately odd spacing: the hub must keep the sender's exact bytes
    package = b'{ "documentId" :' + json.dumps(document(31)["documentId"]).encode() + b"," + \
        body(document(31))[1:]
    call = (f"<lt:SendDocument><lt:PackageBase64>{base64.b64encode(package).decode()}"
            "</lt:PackageBase64><lt:MediaType>application/json</lt:MediaType></lt:SendDocument>")
    r = post(hub, envelope(call, security("province", KEYS["province"])), "1.2", "SendDocument")
    assert r.status_code == 200, r.text
    message_id = r.text.split("<lt:MessageId>")[1].split("<")[0]
    fetched = httpx.get(f"{hub.url}/api/v1/inbox/{message_id}",
                        headers={"Authorization": f"Bearer {KEYS['district']}",
                                 "Accept": "application/json"})
    assert fetched.content == package


# -- faults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("version,code", [("1.2", "Sender"), ("1.1", "Client")])
def test_wrong_password_is_a_client_fault(hub: LiveHub, version: str, code: str) -> None:
    r = post(hub, envelope(ORGS, security("district", "wrong"), version), version)
    assert r.status_code == 500
    fault = read_fault(r.content)
    assert fault.soap_code == code
    assert fault.code == "invalid_credentials"
    assert fault.message_vi == "Sai tên đăng nhập hoặc mật khẩu"
    if version == "1.2":
        assert fault.subcode == "lt:invalid_credentials"
        assert fault.reason["vi"] == "Sai tên đăng nhập hoặc mật khẩu"
    assert rejections(hub)[-1]["code"] == "invalid_credentials"
    assert rejections(hub)[-1]["claimed_identity"] == "district"
    assert rejections(hub)[-1]["channel"] == "soap"


def test_missing_security_header_is_refused_with_a_basic_challenge(hub: LiveHub) -> None:
    r = post(hub, envelope(ORGS))
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("Sender", "missing_credentials")
    assert rejections(hub)[-1]["code"] == "missing_credentials"


def test_wrong_basic_credentials_are_challenged_again(hub: LiveHub) -> None:
    basic = base64.b64encode(b"district:wrong").decode()
    r = post(hub, envelope(ORGS), Authorization=f"Basic {basic}")
    assert r.status_code == 401
    assert read_fault(r.content).code == "invalid_credentials"


def test_password_digest_is_refused_clearly(hub: LiveHub) -> None:
    r = post(hub, envelope(ORGS, security("district", "ZGlnZXN0", digest=True)))
    assert r.status_code == 500
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("Sender", "password_digest_unsupported")
    assert "PasswordText" in fault.message
    assert rejections(hub)[-1]["claimed_identity"] == "district"


def test_tokens_naming_two_systems_are_refused(hub: LiveHub) -> None:
    basic = base64.b64encode(f"province:{KEYS['province']}".encode()).decode()
    r = post(hub, envelope(ORGS, security("district", KEYS["district"])),
             Authorization=f"Basic {basic}")
    assert read_fault(r.content).code == "conflicting_credentials"


def test_unknown_operation(hub: LiveHub) -> None:
    r = post(hub, envelope("<lt:DeleteEverything/>", security("district", KEYS["district"])),
             operation="DeleteEverything")
    assert r.status_code == 500
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("Sender", "unknown_operation")
    assert "GetPendingDocumentIds" in fault.message


def test_soap_action_naming_another_operation(hub: LiveHub) -> None:
    r = post(hub, envelope(ORGS, security("district", KEYS["district"]), "1.1"), "1.1",
             "GetTrace")
    assert read_fault(r.content).code == "soap_action_mismatch"


def test_malformed_envelope_reports_the_line(hub: LiveHub) -> None:
    broken = envelope(ORGS, security("district", KEYS["district"])).replace(
        b"</soap:Body>", b"</soap:Bdy>")
    r = post(hub, broken)
    assert r.status_code == 500
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("Sender", "xml_malformed")
    assert fault.errors[0]["Line"] == "6"
    assert rejections(hub)[-1]["code"] == "xml_malformed"


def test_a_document_that_is_not_an_envelope(hub: LiveHub) -> None:
    r = post(hub, b"<GetOrganizations/>")
    assert read_fault(r.content).code == "soap_envelope_invalid"
    r = post(hub, envelope(ORGS + ORGS, security("district", KEYS["district"])))
    assert read_fault(r.content).code == "soap_body_invalid"


def test_doctype_with_entities_is_refused_before_expansion(hub: LiveHub) -> None:
    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
            + envelope("<lt:GetOrganizations>&lol2;</lt:GetOrganizations>").split(b"\n", 1)[1])
    r = post(hub, bomb)
    assert r.status_code == 500
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("Sender", "xml_doctype")
    assert rejections(hub)[-1]["code"] == "xml_doctype"


def test_deep_nesting_is_refused(hub: LiveHub) -> None:
    deep = "<lt:x>" * 200 + "</lt:x>" * 200
    r = post(hub, envelope(f"<lt:GetOrganizations>{deep}</lt:GetOrganizations>"))
    assert read_fault(r.content).code == "xml_too_deep"


def test_version_mismatch(hub: LiveHub) -> None:
    r = post(hub, envelope(ORGS, security("district", KEYS["district"]), "1.1"), "1.2")
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("VersionMismatch", "soap_version_mismatch")


def test_header_that_must_be_understood(hub: LiveHub) -> None:
    header = (security("district", KEYS["district"])
              + '<x:Billing xmlns:x="urn:x" soap:mustUnderstand="true">1</x:Billing>')
    r = post(hub, envelope(ORGS, header))
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("MustUnderstand", "soap_must_understand")


def test_not_soap_at_all(hub: LiveHub) -> None:
    r = httpx.post(f"{hub.url}/soap", content=b"{}",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    assert read_fault(r.content).code == "soap_media_type"


def test_body_over_the_limit_is_refused_before_it_is_read(hub: LiveHub) -> None:
    big = base64.b64encode(b"x" * LIMIT).decode()
    call = f"<lt:SendDocument><lt:PackageBase64>{big}</lt:PackageBase64></lt:SendDocument>"
    r = post(hub, envelope(call, security("province", KEYS["province"])), "1.2",
             "SendDocument")
    assert r.status_code == 500
    assert read_fault(r.content).code == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield envelope(call, security("province", KEYS["province"]))

    r = httpx.post(f"{hub.url}/soap", content=chunks(), headers=headers("1.2", "SendDocument"))
    assert read_fault(r.content).code == "payload_too_large"
    assert rejections(hub)[-1]["code"] == "payload_too_large"


def test_invalid_package_fault_carries_every_field_error(hub: LiveHub) -> None:
    bad = document(32, subject="")
    del bad["from"]
    call = (f"<lt:SendDocument><lt:PackageBase64>{base64.b64encode(body(bad)).decode()}"
            "</lt:PackageBase64><lt:MediaType>application/json</lt:MediaType></lt:SendDocument>")
    r = post(hub, envelope(call, security("province", KEYS["province"]), "1.1"), "1.1",
             "SendDocument")
    fault = read_fault(r.content)
    assert (fault.soap_code, fault.code) == ("Client", "validation_failed")
    # both faults: "from" missing (reported at the top) and the empty subject
    assert sorted(e["Path"] for e in fault.errors) == ["/", "/subject"], fault.errors
    assert all(e["Message"] and e["MessageVi"] for e in fault.errors), fault.errors
    audited = rejections(hub)[-1]
    assert (audited["actor"], audited["code"]) == ("province", "validation_failed")


def test_bad_base64_and_missing_package(hub: LiveHub) -> None:
    auth = security("province", KEYS["province"])
    r = post(hub, envelope("<lt:SendDocument><lt:PackageBase64>!!</lt:PackageBase64>"
                           "</lt:SendDocument>", auth), operation="SendDocument")
    fault = read_fault(r.content)
    assert fault.code == "soap_bad_base64"
    assert fault.errors[0]["Path"] == "/Envelope/Body/SendDocument/PackageBase64"
    r = post(hub, envelope("<lt:SendDocument/>", auth), operation="SendDocument")
    assert read_fault(r.content).code == "soap_request_invalid"
    assert [e["actor"] for e in rejections(hub)[-2:]] == ["province", "province"]


def test_request_field_errors_name_the_field(hub: LiveHub) -> None:
    auth = security("district", KEYS["district"])
    r = post(hub, envelope("<lt:GetDocument/>", auth), operation="GetDocument")
    fault = read_fault(r.content)
    assert fault.code == "soap_request_invalid"
    assert fault.errors[0]["Path"] == "/Envelope/Body/GetDocument/MessageId"
    r = post(hub, envelope("<lt:GetPendingDocumentIds><lt:Limit>0</lt:Limit>"
                           "</lt:GetPendingDocumentIds>", auth), operation="GetPendingDocumentIds")
    assert read_fault(r.content).errors[0]["Path"].endswith("/Limit")


def test_trace_of_someone_elses_message_is_not_found(hub: LiveHub) -> None:
    r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(33, to=(DISTRICT,))),
                   headers={"Authorization": f"Bearer {KEYS['province']}",
                            "Content-Type": "application/json"})
    message_id = r.json()["id"]
    call = f"<lt:GetTrace><lt:MessageId>{message_id}</lt:MessageId></lt:GetTrace>"
    r = post(hub, envelope(call, security("other", KEYS["other"])), operation="GetTrace")
    assert read_fault(r.content).code == "message_not_found"
    r = post(hub, envelope(call, security("province", KEYS["province"])), operation="GetTrace")
    assert r.status_code == 200
    assert b"<lt:Source>hub</lt:Source>" in r.content


def test_wsdl_is_served_under_its_usual_spellings(hub: LiveHub) -> None:
    for query in ("wsdl", "WSDL", "singleWsdl"):
        r = httpx.get(f"{hub.url}/soap?{query}")
        assert r.status_code == 200
        assert f'location="{hub.url}/soap"'.encode() in r.content
        assert f'targetNamespace="{LT}"'.encode() in r.content
        assert b"schemaLocation" not in r.content  # one document: the types are inline
