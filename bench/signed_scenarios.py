"""Signed edXML scenarios: the edXML packages of `edxml_scenarios`, signed with XML-DSig.

RSA-2048, PKCS#1 v1.5 and RSASSA-PSS (SHA-256), by a certificate of the bench sender from
the test PKI; the hub under test trusts its root and reads its CRL. Each scenario is read
against the unsigned edXML scenario of the same size, measured in the same rounds.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.edxml_scenarios import edxml_document
from bench.scenario import SENDER, Scenario

METHODS = {"rsa-sha256": "RSA PKCS#1 v1.5", "rsa-pss-sha256": "RSASSA-PSS"}


@contextlib.contextmanager
def signing_env() -> Iterator[dict[str, str]]:
    """The settings that make the hub under test trust the bench PKI (as environment)."""
    from tests.pki import shared_pki

    with tempfile.TemporaryDirectory(prefix="lt-bench-pki-") as tmp:
        anchors, crls = shared_pki().write(Path(tmp))
        yield {"LIENTHONG_SIGNATURES__TRUST_ANCHORS": json.dumps([str(anchors)]),
               "LIENTHONG_SIGNATURES__CRLS": json.dumps([str(crls)])}


def signed_document(method: str) -> Callable[[int, int], bytes]:
    def make(n: int, size: int) -> bytes:
        from tests.pki import shared_pki
        from tests.xmlsign import sign_edxml

        return sign_edxml(edxml_document(n, size), shared_pki().signer(SENDER), method=method)
    return make


def signed_scenarios(auth: dict[str, str]) -> list[Scenario]:
    out = []
    for size in (5 * 1024, 100 * 1024):
        label = f"{size // 1024} KB"
        for method, name in METHODS.items():
            out.append(Scenario(f"POST /api/v1/documents edXML {name}, {label}", "hub",
                                "/api/v1/documents", "application/xml", size,
                                signed_document(method), auth,
                                baseline=f"POST /api/v1/documents edXML, {label}"))
    return out
