"""XML-DSig verification side by side: xmlsec against signxml, and the hub's whole step.

    .venv/bin/python -m bench.xmldsig [--rounds 200]

Documents of about 5 KB and 100 KB (the `make bench` edXML packages), signed enveloped
with RSA-2048 (PKCS#1 v1.5 and RSASSA-PSS, SHA-256, exclusive C14N) by the test PKI.
Each library verifies with the signer's certificate given explicitly (no trust store of
its own); every timing includes parsing the bytes, as the library would need in the hub.
"The hub's step" is `SignatureVerifier.verify`: profile checks, chain and CRL, xmlsec.
Medians of `--rounds` runs, all in one process, one after the other per round.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from bench.edxml_scenarios import edxml_document
from bench.scenario import SENDER
from core.model import Form
from core.settings import Limits, Signatures
from schemas.xmlparser import parse_xml
from security.signatures.verifier import SignatureVerifier
from tests.pki import pem, shared_pki
from tests.xmlsign import sign_edxml

LIMITS = Limits()


def hardened(raw: bytes) -> etree._Element:
    return parse_xml(raw, max_depth=LIMITS.max_xml_depth,
                     max_attributes=LIMITS.max_xml_attributes, max_bytes=LIMITS.max_body_bytes)


def candidates(raw: bytes, verifier: SignatureVerifier) -> dict[str, Callable[[], object]]:
    pki = shared_pki()
    leaf = pki.signer(SENDER)
    cert_pem = pem(leaf.cert)
    out: dict[str, Callable[[], object]] = {"parse only (hardened)": lambda: hardened(raw)}

    import xmlsec

    def with_xmlsec() -> None:
        root = hardened(raw)
        node = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        ctx.verify(node)

    out["xmlsec 1.3 (libxmlsec1)"] = with_xmlsec
    try:
        from signxml import SignatureConfiguration, XMLVerifier
        from signxml.algorithms import SignatureMethod
    except ImportError:  # pragma: no cover - signxml is a dev dependency
        pass
    else:
        config = SignatureConfiguration(location=".//", signature_methods=frozenset(
            m for m in SignatureMethod if "SHA1" not in m.name))

        def with_signxml() -> None:
            XMLVerifier().verify(hardened(raw), x509_cert=leaf.cert, expect_config=config)

        out["signxml"] = with_signxml
    policy = verifier.policy_for(None, "required")
    out["the hub's step (profile + chain + CRL + xmlsec)"] = lambda: verifier.verify(
        raw, Form.EDXML, policy, [SENDER])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.xmldsig")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    pki = shared_pki()
    with tempfile.TemporaryDirectory() as tmp:
        anchors, crls = pki.write(Path(tmp))
        verifier = SignatureVerifier(Signatures(trust_anchors=[anchors], crls=[crls]), LIMITS)
        print(f"XML-DSig verification, median of {args.rounds} rounds (ms)")
        for size in (5 * 1024, 100 * 1024):
            for method in ("rsa-sha256", "rsa-pss-sha256"):
                raw = sign_edxml(edxml_document(1, size), pki.signer(SENDER), method=method)
                runs = candidates(raw, verifier)
                times: dict[str, list[float]] = {name: [] for name in runs}
                for run in runs.values():  # warm up, and fail loudly before timing
                    run()
                for _ in range(args.rounds):
                    for name, run in runs.items():
                        start = time.perf_counter()
                        run()
                        times[name].append(time.perf_counter() - start)
                print(f"\n{size // 1024} KB document ({len(raw)} bytes signed), {method}")
                for name, values in times.items():
                    print(f"  {name:<52}{statistics.median(values) * 1000:8.3f}")


if __name__ == "__main__":
    main()
