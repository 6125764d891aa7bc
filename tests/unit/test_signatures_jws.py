"""JWS on the JSON form: detached over the RFC 8785 canonical package, x5c chains; the JWS
equivalents of the wrapping attacks are refused, each with its code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from core.errors import SignatureRefused
from core.model import Form
from core.settings import Limits, Signatures
from routing.directory import SignatureRules
from schemas.mapping import edxml_to_json
from security.signatures.policy import Mode
from security.signatures.verdict import Verdict
from security.signatures.verifier import SignatureVerifier
from tests.edxml_support import corpus
from tests.jwsign import b64url, dumps, sign_json
from tests.pki import SENDER, Pki, issue_leaf, new_key, shared_pki

G22 = "000.00.00.G22"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture(scope="module")
def verifier(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> SignatureVerifier:
    anchors, crls = pki.write(tmp_path_factory.mktemp("trust"))
    return SignatureVerifier(Signatures(trust_anchors=[anchors], crls=[crls]), Limits())


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    """The JSON form of a corpus document from 002.00.20.H13, attachment included."""
    return edxml_to_json(corpus("edoc_new.edxml"))


def check(verifier: SignatureVerifier, raw: bytes, mode: Mode = "required",
          rules: SignatureRules | None = None, sender: str = SENDER) -> Verdict:
    return verifier.verify(raw, Form.JSON, verifier.policy_for(rules, mode), [sender])


def refused(verifier: SignatureVerifier, raw: bytes, mode: Mode = "required",
            rules: SignatureRules | None = None) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as caught:
        check(verifier, raw, mode, rules)
    assert caught.value.detail and caught.value.detail_vi
    return caught.value


@pytest.mark.parametrize("form", ["compact", "flattened", "general"])
@pytest.mark.parametrize("alg,kind", [("PS256", "rsa"), ("RS256", "rsa"), ("PS512", "rsa"),
                                      ("ES256", "ec")])
def test_signed_json_packages_verify(verifier: SignatureVerifier, pki: Pki,
                                     package: dict[str, Any], alg: str, kind: str,
                                     form: str) -> None:
    signer = pki.signer(SENDER, kind)
    signed = sign_json(package, signer, alg=alg, form=form, header={"iat": 1764576000})
    verdict = check(verifier, dumps(signed))
    assert verdict.signed and verdict.format == "jws"
    assert verdict.algorithm == {"PS": "rsa-pss", "RS": "rsa", "ES": "ecdsa"}[alg[:2]] + \
        f"-sha{alg[2:]}"
    assert verdict.signers[0].subject == signer.cert.subject.rfc4514_string()
    assert verdict.signing_time == "2025-12-01T08:00:00+00:00"
    assert verdict.canonicalization == "RFC 8785"


def test_member_order_and_whitespace_do_not_matter(verifier: SignatureVerifier, pki: Pki,
                                                   package: dict[str, Any]) -> None:
    signed = sign_json(package, pki.leaf("rsa"))
    reordered = dict(reversed(list(signed.items())))
    raw = json.dumps(reordered, indent=3, ensure_ascii=True).encode()
    assert check(verifier, raw).signed


def test_unsigned_json_under_each_policy(verifier: SignatureVerifier,
                                         package: dict[str, Any]) -> None:
    plain = {k: v for k, v in package.items() if k != "signature"}
    assert check(verifier, dumps(plain), "if-present").status == "unsigned"
    assert check(verifier, dumps(plain), "off").status == "not_checked"
    assert refused(verifier, dumps(plain)).code == "signature_missing"
    # the XML block an edXML producer wrote is data in the JSON form, never a signature
    verdict = check(verifier, dumps(package), "if-present")
    assert verdict.status == "unsigned" and verdict.warnings
    assert "only a JWS signs the JSON form" in verdict.warnings[0].message


def _swap_subject(pkg: dict[str, Any]) -> dict[str, Any]:
    return {**pkg, "subject": "Quyết định giả mạo"}


def jws_cases(pki: Pki, package: dict[str, Any]) -> list[tuple[str, bytes, str]]:
    leaf = pki.leaf("rsa")
    good = sign_json(package, leaf)
    other_key = issue_leaf(pki.intermediate, cn="Same org, other key", key=new_key("rsa"))
    public_pem = leaf.cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    extra = {**package, "content": "a sentence the signer wrote"}
    duplicate = dumps(good).replace(b'"subject":', '"subject": "Giả mạo", "subject":'.encode(), 1)
    two = sign_json(package, leaf, form="general")
    two["jws"]["signatures"].append(two["jws"]["signatures"][0])
    return [
        ("payload swapped after signing", dumps(_swap_subject(good)), "jws_invalid"),
        ("a member removed after signing", dumps({**sign_json(extra, leaf),
                                                  "content": package.get("content", "")}),
         "jws_invalid"),
        ("signed over other bytes", dumps(sign_json(package, leaf, payload=b"{}")),
         "jws_invalid"),
        ("alg none", dumps(sign_json(package, leaf, alg="none")),
         "signature_algorithm_refused"),
        ("HS256 keyed with the public key",
         dumps(sign_json(package, None, alg="HS256", certs=[leaf.cert], hmac_key=public_pem)),
         "signature_algorithm_refused"),
        ("PS256 named, PKCS#1 v1.5 signed",
         dumps(_relabel(sign_json(package, leaf, alg="RS256"), "PS256")), "jws_invalid"),
        ("x5c from another CA", dumps(sign_json(package, pki.leaf("foreign"))),
         "certificate_untrusted"),
        ("x5c of the sender, key of someone else",
         dumps(sign_json(package, other_key, certs=leaf.certs)), "jws_invalid"),
        ("ES256 with an RSA certificate",
         dumps(sign_json(package, pki.leaf("ec"), alg="ES256", certs=leaf.certs)),
         "signature_invalid"),
        ("a bare jwk instead of x5c",
         dumps(sign_json(package, leaf, certs=[], header={"jwk": {"kty": "RSA"}})),
         "certificate_missing"),
        ("jku pointing outside", dumps(sign_json(package, leaf,
                                                 header={"jku": "https://evil.example/k"})),
         "signature_reference_external"),
        ("x5u pointing outside", dumps(sign_json(package, leaf,
                                                 header={"x5u": "https://evil.example/c"})),
         "signature_reference_external"),
        ("crit", dumps(sign_json(package, leaf, header={"crit": ["exp"], "exp": 1})),
         "jws_malformed"),
        ("b64 false", dumps(sign_json(package, leaf, header={"b64": False})), "jws_malformed"),
        ("unprotected header", dumps(sign_json(package, leaf, form="flattened",
                                               unprotected={"kid": "x"})), "jws_malformed"),
        ("payload attached", dumps(sign_json(package, leaf, attached=True)), "jws_malformed"),
        ("duplicate member names in the package", duplicate, "jws_malformed"),
        ("two signatures", dumps(two), "signature_multiple"),
        ("certificate of another organisation", dumps(sign_json(package, pki.leaf("other-org"))),
         "certificate_not_sender"),
        ("expired certificate", dumps(sign_json(package, pki.leaf("expired"))),
         "certificate_expired"),
        ("revoked certificate", dumps(sign_json(package, pki.leaf("revoked"))),
         "certificate_revoked"),
        ("jws stripped", dumps({k: v for k, v in good.items() if k != "jws"}),
         "signature_missing"),
    ]


def _relabel(signed: dict[str, Any], alg: str) -> dict[str, Any]:
    head, _, value = signed["jws"].split(".")
    import base64
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header["alg"] = alg
    return {**signed, "jws": f"{b64url(json.dumps(header).encode())}..{value}"}


def _ids() -> list[str]:
    return [name for name, _, _ in jws_cases(shared_pki(), edxml_to_json(corpus(
        "edoc_new.edxml")))]


@pytest.mark.parametrize("index", range(len(_ids())), ids=_ids())
def test_jws_attacks_are_refused_with_their_code(verifier: SignatureVerifier, pki: Pki,
                                                 package: dict[str, Any], index: int) -> None:
    name, raw, code = jws_cases(pki, package)[index]
    exc = refused(verifier, raw)
    assert exc.code == code, f"{name}: {exc.code}: {exc.detail}"


def test_a_system_can_demand_pss_for_jws_too(verifier: SignatureVerifier, pki: Pki,
                                             package: dict[str, Any]) -> None:
    pss = SignatureRules(algorithms=("rsa-pss-sha256",))
    assert check(verifier, dumps(sign_json(package, pki.leaf("rsa"), alg="PS256")),
                 rules=pss).signed
    assert refused(verifier, dumps(sign_json(package, pki.leaf("rsa"), alg="RS256")),
                   rules=pss).code == "signature_algorithm_refused"


def test_escaped_member_name_is_still_the_jws(verifier: SignatureVerifier, pki: Pki,
                                              package: dict[str, Any]) -> None:
    raw = dumps(sign_json(package, pki.leaf("expired"))).replace(b'"jws"', b'"\\u006aws"')
    assert refused(verifier, raw, mode="if-present").code == "certificate_expired"


def test_schema_accepts_the_jws_member(tmp_path: Path, pki: Pki,
                                       package: dict[str, Any]) -> None:
    from core.model import Kind
    from core.settings import Settings
    from schemas.jsonform import JsonCodec

    signed = sign_json(package, pki.leaf("rsa"), form="flattened")
    envelope = JsonCodec(Settings()).read(dumps(signed), Kind.DOCUMENT)
    assert envelope.sender == SENDER


def test_duplicate_names_matter_only_to_a_signed_package(verifier: SignatureVerifier,
                                                         package: dict[str, Any]) -> None:
    plain = dumps({k: v for k, v in package.items() if k != "signature"})
    doubled = plain.replace(b'"subject":', '"subject": "Khác", "subject":'.encode(), 1)
    assert check(verifier, doubled, "if-present").status == "unsigned"
