"""Validation profiles over the wire: a live hub carries each deviation real producers make
from a system under `interop` (202, the warning in GET /api/v1/messages/{id} and in SOAP
GetTrace) and refuses it from a system under `strict` (422 with the same code and path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import zeep

from core.model import Form, Kind
from routing.directory import Directory
from tests import services
from tests.corpus_directory import CORPUS_KEYS, CORPUS_ORGS
from tests.deviation_cases import CASES, DOC, Deviation, with_document_id
from tests.soap_support import hub_fault, zeep_client
from tests.support import LiveHub, key_hash, run_hub

pytestmark = pytest.mark.integration

SAAS = "vxp.saas.03"  # a test platform's organisation id, as the national platform has them
KEYS = {**CORPUS_KEYS, "saas03": "key-saas03"}


def directory(profile: str | None) -> Directory:
    """The corpus's organisations and a test platform's, each served by its own system, all
    systems under `profile` (None: the hub's, which is interop)."""
    orgs = [{"code": code, "name": name, "level": "external"}
            for code, (_, name) in CORPUS_ORGS.items()]
    orgs.append({"code": SAAS, "name": "Đơn vị thử nghiệm VXP 3", "level": "external"})
    served = {code: system for code, (system, _) in CORPUS_ORGS.items()} | {SAAS: "saas03"}
    systems = []
    for code, system in served.items():
        entry: dict[str, Any] = {"id": system, "organizations": [code],
                                 "api_key_hashes": [key_hash(KEYS[system])],
                                 "receive": {"mode": "pull", "format": "edxml"}}
        if profile:
            entry["validation"] = {"profile": profile}
        systems.append(entry)
    return Directory.from_dict({"organizations": orgs, "systems": systems})


def sender(case: Deviation) -> str:
    if case.kind is Kind.STATUS:
        return "nghean"  # status.edxml comes from 000.00.00.H41
    # the test platform's own system sends what it signs as From
    return "saas03" if case.path.lower().endswith("/from/organid") else "vpcp"


def post(hub: LiveHub, system: str, raw: bytes, form: Form, kind: Kind) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/{'statuses' if kind is Kind.STATUS else 'documents'}",
                      content=raw, timeout=60,
                      headers={"Authorization": f"Bearer {KEYS[system]}",
                               "Content-Type": form.media_type})


@pytest.fixture(scope="module")
def hubs(pg_server: str | None, redis_server: str | None) -> Iterator[dict[str, LiveHub]]:
    from core.settings import Settings

    server = services.require(pg_server, "PostgreSQL")
    redis = services.require(redis_server, "Redis")
    with services.fresh_database(server, "lt_interop") as interop_url, \
            services.fresh_database(server, "lt_strict") as strict_url:
        built: dict[str, LiveHub] = {}
        with run_hub(Settings(database_url=interop_url, redis_url=redis, embedded_worker=True,
                              broker_namespace=f"lt-{interop_url.rsplit('/', 1)[-1]}"),
                     directory(None)) as interop, \
                run_hub(Settings(database_url=strict_url, redis_url=redis, embedded_worker=True,
                                 broker_namespace=f"lt-{strict_url.rsplit('/', 1)[-1]}"),
                        directory("strict")) as strict:
            built = {"interop": interop, "strict": strict}
            for live in built.values():
                # the document the status packages answer, free of any deviation
                r = post(live, "vpcp", DOC, Form.EDXML, Kind.DOCUMENT)
                assert r.status_code == 202, r.text
            yield built


def _document_id(case: Deviation, index: int) -> bytes:
    return with_document_id(case, f"000.00.00.G22,2025/03/14,{100 + index}/VPCP-TTĐT")


@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: CASES[i].id)
def test_interop_carries_the_deviation_and_shows_the_warning(hubs: dict[str, LiveHub],
                                                            index: int) -> None:
    case = CASES[index]
    hub, system = hubs["interop"], sender(case)
    r = post(hub, system, _document_id(case, index), case.form, case.kind)
    assert r.status_code == 202, r.text
    message = httpx.get(f"{hub.url}/api/v1/messages/{r.json()['id']}", timeout=30,
                        headers={"Authorization": f"Bearer {KEYS[system]}"})
    assert message.status_code == 200, message.text
    [warning] = [w for w in message.json()["warnings"] if w["code"] == case.code]
    assert warning["path"] == case.path
    assert warning.get("line") == case.line
    assert "expected" in warning["message"] and warning["message_vi"]


@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: CASES[i].id)
def test_strict_refuses_the_deviation_with_the_same_code(hubs: dict[str, LiveHub],
                                                        index: int) -> None:
    case = CASES[index]
    r = post(hubs["strict"], sender(case), _document_id(case, index), case.form, case.kind)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == (case.code if case.form is Form.EDXML else "validation_failed")
    assert [(e["code"], e["path"], e.get("line")) for e in problem["errors"]] == [
        (case.code, case.path, case.line)]
    assert problem["detail_vi"] and problem["errors"][0]["message_vi"]


def test_over_soap_the_warning_is_in_get_trace_and_strict_faults(
        hubs: dict[str, LiveHub]) -> None:
    case = next(c for c in CASES if c.code == "trace_hop_incomplete" and c.form is Form.EDXML)
    raw = with_document_id(case, "000.00.00.G22,2025/03/14,999/VPCP-TTĐT")
    client: zeep.Client = zeep_client(hubs["interop"].url, "vpcp", KEYS["vpcp"])
    sent = client.service.SendDocument(PackageBase64=raw)
    assert sent.Status == "accepted"
    trace = client.service.GetTrace(MessageId=sent.MessageId)
    [warning] = [w for w in trace.Warning if w.Code == case.code]
    assert (warning.Path, warning.Line) == (case.path, case.line)
    assert warning.Message.startswith("expected an OrganId") and warning.MessageVi
    strict = zeep_client(hubs["strict"].url, "vpcp", KEYS["vpcp"])
    with pytest.raises(zeep.exceptions.Fault) as info:
        strict.service.SendDocument(PackageBase64=raw)
    fault = hub_fault(info.value)
    assert fault["Code"] == case.code
    [error] = fault["Error"]  # type: ignore[misc]
    assert (error["Path"], error["Line"], error["Code"]) == (case.path, str(case.line),
                                                            case.code)
