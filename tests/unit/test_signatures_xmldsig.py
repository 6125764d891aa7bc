"""XML-DSig on edXML: real corpus packages signed by a test PKI verify; every certificate
problem, policy breach, wrapping and stripping variant is refused with its own code."""

from __future__ import annotations

import base64
import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from core.errors import SignatureRefused, SignerNotSender
from core.model import Form
from core.settings import Limits, Signatures
from routing.directory import SignatureRules
from security.signatures.pki import TrustStore
from security.signatures.policy import Mode
from security.signatures.verdict import Verdict
from security.signatures.verifier import SignatureVerifier
from tests.edxml_support import corpus
from tests.pki import SENDER, Pki, crl, issue_leaf, new_key, shared_pki
from tests.xmlsign import (
    C14N,
    DS,
    EDXML,
    ENVELOPED,
    build_signature,
    finish,
    header,
    parse,
    q,
    serialise,
    sign_edxml,
    strip_signatures,
)

RAW = corpus("edoc_new.edxml")  # From 002.00.20.H13, the organisation the leaves name
G22 = "000.00.00.G22"
H41 = "000.00.00.H41"


@pytest.fixture(scope="module")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture(scope="module")
def verifier(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> SignatureVerifier:
    anchors, crls = pki.write(tmp_path_factory.mktemp("trust"))
    return SignatureVerifier(Signatures(trust_anchors=[anchors], crls=[crls]), Limits())


def check(verifier: SignatureVerifier, raw: bytes, mode: Mode = "required",
          rules: SignatureRules | None = None, sender: str = SENDER) -> Verdict:
    return verifier.verify(raw, Form.EDXML, verifier.policy_for(rules, mode), [sender])


def refused(verifier: SignatureVerifier, raw: bytes, mode: Mode = "required",
            rules: SignatureRules | None = None, sender: str = SENDER) -> SignatureRefused:
    with pytest.raises(SignatureRefused) as caught:
        check(verifier, raw, mode, rules, sender)
    assert caught.value.detail and caught.value.detail_vi
    return caught.value


# -- good signatures -------------------------------------------------------------------------
SIGNED_CASES = [
    ("edoc_new.edxml", SENDER), ("edoc_update.edxml", G22), ("edoc_replacement.edxml", G22),
    ("status.edxml", H41), ("status_cancellation_13.edxml", G22), ("edoc.edxml", SENDER),
]


@pytest.mark.parametrize("method,kind", [("rsa-sha256", "rsa"), ("rsa-pss-sha256", "rsa"),
                                         ("rsa-pss-sha512", "rsa"), ("ecdsa-sha256", "ec")])
@pytest.mark.parametrize("c14n_name", ["exc", "inc"])
@pytest.mark.parametrize("name,sender", SIGNED_CASES)
def test_corpus_packages_signed_by_the_sender_verify(
        verifier: SignatureVerifier, pki: Pki, name: str, sender: str, method: str, kind: str,
        c14n_name: str) -> None:
    signer = pki.signer(sender, kind)
    signed = sign_edxml(corpus(name), signer, method=method, c14n_name=c14n_name)
    verdict = check(verifier, signed, sender=sender)
    assert verdict.status == "verified" and verdict.signed
    assert verdict.format == "xmldsig" and verdict.algorithm == method
    assert verdict.signers[0].subject == signer.cert.subject.rfc4514_string()
    assert verdict.signers[0].issuer == pki.intermediate.cert.subject.rfc4514_string()
    assert verdict.signers[0].serial == format(signer.cert.serial_number, "x")
    assert verdict.revocation == "crl"
    shown = verdict.as_dict()
    assert shown["subject"] == signer.cert.subject.rfc4514_string()
    assert shown["canonicalization"] == ("exc-c14n" if c14n_name == "exc" else "c14n")


def test_a_signed_package_is_not_changed_by_verification(verifier: SignatureVerifier,
                                                         pki: Pki) -> None:
    signed = sign_edxml(RAW, pki.leaf("rsa"), method="rsa-pss-sha256")
    before = bytes(signed)
    check(verifier, signed)
    assert signed == before
    # and the same bytes verify again: nothing was left detached in a shared tree
    assert check(verifier, signed).signed


def test_signing_time_from_a_signed_property(verifier: SignatureVerifier, pki: Pki) -> None:
    def add_time(root: etree._Element, sig: etree._Element) -> None:
        obj = etree.SubElement(sig, q("Object"))
        props = etree.SubElement(obj, q("SignatureProperties"), Id="props")
        prop = etree.SubElement(props, q("SignatureProperty"), Target="#sig")
        etree.SubElement(prop, q("SigningTime")).text = "2026-11-30T08:15:00+07:00"
        # the property reference, digested over the Object as it stands
        info = sig.find(q("SignedInfo"))
        ref = etree.SubElement(info, q("Reference"), URI="#props")
        ts = etree.SubElement(ref, q("Transforms"))
        etree.SubElement(ts, q("Transform"), Algorithm=C14N["exc"])
        etree.SubElement(ref, q("DigestMethod"),
                         Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
        import hashlib
        digest = hashlib.sha256(etree.tostring(props, method="c14n", exclusive=True)).digest()
        etree.SubElement(ref, q("DigestValue")).text = base64.b64encode(digest).decode()

    signed = sign_edxml(RAW, pki.leaf("rsa"), tamper=add_time)
    verdict = check(verifier, signed)
    assert verdict.signing_time == "2026-11-30T08:15:00+07:00"
    assert verdict.as_dict()["covers"] == [
        'the whole package (Reference URI="", enveloped)',
        "/edXML/edXMLEnvelope/edXMLHeader/Signature/Object/SignatureProperties "
        "(signed property)"]


# -- certificates ----------------------------------------------------------------------------
@pytest.mark.parametrize("label,code", [
    ("expired", "certificate_expired"),
    ("not-yet-valid", "certificate_not_yet_valid"),
    ("revoked", "certificate_revoked"),
    ("key-encipherment", "certificate_key_usage"),
    ("foreign", "certificate_untrusted"),
    ("self-signed", "certificate_untrusted"),
    ("rsa1024", "certificate_key_weak"),
    ("other-org", "certificate_not_sender"),
])
def test_bad_certificates_are_refused_with_their_code(verifier: SignatureVerifier, pki: Pki,
                                                      label: str, code: str) -> None:
    signed = sign_edxml(RAW, pki.leaf(label), method="rsa-pss-sha256")
    exc = refused(verifier, signed)
    assert exc.code == code
    if code == "certificate_not_sender":
        assert isinstance(exc, SignerNotSender) and exc.http_status == 403
    else:
        assert exc.http_status == 422


def test_an_ec_certificate_signs_ecdsa_only(verifier: SignatureVerifier, pki: Pki) -> None:
    def ec_cert_rsa_method(root: etree._Element, sig: etree._Element) -> None:
        pass

    signed = sign_edxml(RAW, pki.leaf("rsa"), method="rsa-sha256",
                        certs=[pki.leaf("ec").cert], tamper=ec_cert_rsa_method)
    assert refused(verifier, signed).code == "signature_invalid"


def test_no_trust_anchors_means_untrusted(pki: Pki) -> None:
    bare = SignatureVerifier(Signatures(), Limits())
    signed = sign_edxml(RAW, pki.leaf("rsa"))
    exc = refused(bare, signed)
    assert exc.code == "certificate_untrusted" and "no trust anchors" in exc.detail


def test_a_crl_is_read_again_when_its_file_changes(pki: Pki, tmp_path: Path) -> None:
    anchors, crls = pki.write(tmp_path)
    victim = pki.leaf("rsa")
    crl_file = crls / "intermediate.crl"
    crl_file.write_bytes(crl(pki.intermediate, []).public_bytes(serialization.Encoding.DER))
    verifier = SignatureVerifier(Signatures(trust_anchors=[anchors], crls=[crls],
                                            crl_check_interval_s=0), Limits())
    signed = sign_edxml(RAW, victim)
    assert check(verifier, signed).signed
    crl_file.write_bytes(crl(pki.intermediate, [victim.cert]).public_bytes(
        serialization.Encoding.DER))
    assert refused(verifier, signed).code == "certificate_revoked"


def test_require_crl_refuses_an_issuer_without_one(pki: Pki, tmp_path: Path) -> None:
    anchors, _ = pki.write(tmp_path)
    verifier = SignatureVerifier(Signatures(trust_anchors=[anchors], require_crl=True),
                                 Limits())
    exc = refused(verifier, sign_edxml(RAW, pki.leaf("rsa")))
    assert exc.code == "certificate_revocation_unknown"
    lenient = SignatureVerifier(Signatures(trust_anchors=[anchors]), Limits())
    assert check(lenient, sign_edxml(RAW, pki.leaf("rsa"))).revocation == "no_crl"


def test_an_expired_intermediate_breaks_the_chain(pki: Pki) -> None:
    store = TrustStore([pki.root.cert])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=4000)
    leaf = issue_leaf(pki.intermediate, cn="Long-lived", key=pki.leaf("rsa").key,
                      not_after=later + dt.timedelta(days=10))
    with pytest.raises(SignatureRefused) as caught:
        store.validate(leaf.cert, leaf.chain, later)
    assert caught.value.code == "certificate_untrusted"


# -- the directory's certificate matchers ----------------------------------------------------
def test_directory_matchers_decide_whose_certificate_is_the_senders(
        verifier: SignatureVerifier, pki: Pki) -> None:
    leaf = pki.leaf("other-org")  # names 000.00.00.H41, not the sender
    signed = sign_edxml(RAW, leaf)
    assert refused(verifier, signed).code == "certificate_not_sender"
    by_subject = SignatureRules(certificates=({"subject": leaf.cert.subject.rfc4514_string()},))
    assert check(verifier, signed, rules=by_subject).signed
    by_serial = SignatureRules(certificates=({"serial": format(leaf.cert.serial_number, "X"),
                                              "issuer": leaf.cert.issuer.rfc4514_string()},))
    assert check(verifier, signed, rules=by_serial).signed
    by_org = SignatureRules(certificates=({"organization_id": "000.00.00.H41"},))
    assert check(verifier, signed, rules=by_org).signed
    wrong = SignatureRules(certificates=({"organization_id": SENDER},))
    assert refused(verifier, signed, rules=wrong).code == "certificate_not_sender"
    wrong_serial = SignatureRules(certificates=({"serial": "0x1234"},))
    assert refused(verifier, signed, rules=wrong_serial).code == "certificate_not_sender"


# -- policy ----------------------------------------------------------------------------------
def test_required_refuses_an_unsigned_package(verifier: SignatureVerifier) -> None:
    exc = refused(verifier, corpus("status.edxml"), sender=H41)
    assert exc.code == "signature_missing"


def test_placeholder_blocks_are_unsigned_with_a_warning_under_if_present(
        verifier: SignatureVerifier) -> None:
    for name in ("edoc.edxml", "edoc_new.edxml"):  # ds:Signature sample / edXML Signature
        verdict = check(verifier, corpus(name), mode="if-present")
        assert verdict.status == "unsigned" and not verdict.signed
        assert [w.code for w in verdict.warnings] == ["signature_placeholder"]  # type: ignore[attr-defined]
        assert "not verified" in verdict.warnings[0].message
        exc = refused(verifier, corpus(name))
        assert exc.code == "signature_missing" and "placeholder" in exc.detail


def test_off_checks_nothing(verifier: SignatureVerifier, pki: Pki) -> None:
    broken = sign_edxml(RAW, pki.leaf("expired"))
    assert check(verifier, broken, mode="off").status == "not_checked"


def test_if_present_verifies_a_present_signature_in_full(verifier: SignatureVerifier,
                                                         pki: Pki) -> None:
    assert refused(verifier, sign_edxml(RAW, pki.leaf("expired")),
                   mode="if-present").code == "certificate_expired"
    assert check(verifier, sign_edxml(RAW, pki.leaf("rsa")), mode="if-present").signed


def test_sha1_only_where_the_system_allows_it(verifier: SignatureVerifier, pki: Pki) -> None:
    rsa_sha1 = sign_edxml(RAW, pki.leaf("rsa"), method="rsa-sha1")
    sha1_digest = sign_edxml(RAW, pki.leaf("rsa"), digest="sha1")
    for raw in (rsa_sha1, sha1_digest):
        exc = refused(verifier, raw)
        assert exc.code == "signature_algorithm_refused" and "SHA-1" in exc.detail
    legacy = SignatureRules(allow_sha1=True)
    assert check(verifier, rsa_sha1, rules=legacy).algorithm == "rsa-sha1"
    assert check(verifier, sha1_digest, rules=legacy).digest == "sha1"


def test_a_system_can_demand_rsassa_pss(verifier: SignatureVerifier, pki: Pki) -> None:
    pss_only = SignatureRules(algorithms=("rsa-pss-sha256", "rsa-pss-sha512"))
    assert check(verifier, sign_edxml(RAW, pki.leaf("rsa"), method="rsa-pss-sha256"),
                 rules=pss_only).signed
    exc = refused(verifier, sign_edxml(RAW, pki.leaf("rsa"), method="rsa-sha256"),
                  rules=pss_only)
    assert exc.code == "signature_algorithm_refused" and "rsa-sha256" in exc.detail


def test_serial_co_signatures_only_where_allowed(verifier: SignatureVerifier,
                                                 pki: Pki) -> None:
    first = sign_edxml(RAW, pki.leaf("rsa"))
    root = parse(first)
    second = build_signature(method="ecdsa-sha256", certs=pki.leaf("ec").certs)
    header(root).append(second)
    finish(root, second, pki.leaf("ec").key)
    both = serialise(root)
    assert refused(verifier, both).code == "signature_multiple"
    verdict = check(verifier, both, rules=SignatureRules(co_signatures=True))
    assert verdict.signed and len(verdict.signers) == 2
    assert verdict.signers[1].subject == pki.leaf("ec").cert.subject.rfc4514_string()


# -- wrapping and stripping ------------------------------------------------------------------
def edit(raw: bytes, change: Callable[[etree._Element], Any]) -> bytes:
    """The signed bytes with `change` applied to the tree after signing."""
    root = parse(raw)
    change(root)
    return serialise(root)


def ds_signature(root: etree._Element) -> etree._Element:
    found = root.find(f".//{q('Signature')}")
    assert found is not None
    return found


def message_header(root: etree._Element) -> etree._Element:
    found = header(root).find(f"{{{EDXML}}}MessageHeader")
    assert found is not None
    return found


def _flip_value(root: etree._Element) -> None:
    value = ds_signature(root).find(q("SignatureValue"))
    data = bytearray(base64.b64decode(value.text))  # type: ignore[union-attr, arg-type]
    data[10] ^= 0x01
    value.text = base64.b64encode(bytes(data)).decode()  # type: ignore[union-attr]


def _subject(root: etree._Element) -> etree._Element:
    found = message_header(root).find(f"{{{EDXML}}}Subject")
    assert found is not None
    return found


def _change_subject(root: etree._Element) -> None:
    _subject(root).text = "Quyết định giả mạo"


def _duplicate_to(root: etree._Element) -> None:
    to = message_header(root).find(f"{{{EDXML}}}To")
    to.addnext(copy.deepcopy(to))  # type: ignore[union-attr]


def _comment_out_to(root: etree._Element) -> None:
    to = message_header(root).find(f"{{{EDXML}}}To")
    to.addprevious(etree.Comment(etree.tostring(to).decode()))  # type: ignore[union-attr]
    message_header(root).remove(to)  # type: ignore[arg-type]


def _split_subject(root: etree._Element, sig: etree._Element) -> None:
    subject = _subject(root)
    text = subject.text or ""
    subject.text = text[:5]
    comment = etree.Comment(" hidden ")
    comment.tail = text[5:]
    subject.append(comment)


def _move_into_header(root: etree._Element, sig: etree._Element) -> None:
    message_header(root).append(sig)


def _move_to_root(root: etree._Element, sig: etree._Element) -> None:
    root.append(sig)


def _into_attachment(root: etree._Element, sig: etree._Element) -> None:
    attachment = root.find(f".//{{{EDXML}}}Attachment")
    assert attachment is not None
    attachment.append(sig)


def _second_signature(root: etree._Element) -> None:
    sig = ds_signature(root)
    sig.addnext(copy.deepcopy(sig))


def _drop_uri(root: etree._Element, sig: etree._Element) -> None:
    del sig.find(f"{q('SignedInfo')}/{q('Reference')}").attrib["URI"]  # type: ignore[union-attr]


def _retrieval_method(root: etree._Element, sig: etree._Element) -> None:
    key_info = sig.find(q("KeyInfo"))
    etree.SubElement(key_info, q("RetrievalMethod"),  # type: ignore[arg-type]
                     URI="http://ca.example/signer.cer")


def _wrap_original_in_object(original: bytes, keep_signature: bool = False
                             ) -> Callable[[etree._Element, etree._Element], None]:
    """The classic wrapping: the genuine package hidden in the signature, a forged one
    outside it."""
    def tamper(root: etree._Element, sig: etree._Element) -> None:
        obj = etree.SubElement(sig, q("Object"), Id="wrapped")
        genuine = parse(original)
        if not keep_signature:
            strip_signatures(genuine)
        obj.append(genuine)
        _change_subject(root)
    return tamper


def _strip(root: etree._Element) -> None:
    strip_signatures(root)


def _downgrade(root: etree._Element) -> None:
    sig = ds_signature(root)
    sig.tag = f"{{{EDXML}}}Signature"


def _duplicate_id_property(root: etree._Element, sig: etree._Element) -> None:
    obj = etree.SubElement(sig, q("Object"))
    etree.SubElement(obj, q("SignatureProperties"), Id="hdr")
    message_header(root).set("Id", "hdr")


def wrapping_cases(pki: Pki) -> list[tuple[str, bytes, str]]:
    """(name, bytes, expected code): at least fifteen ways to cheat a signed package."""
    leaf = pki.leaf("rsa")
    good = sign_edxml(RAW, leaf)
    other_key = issue_leaf(pki.intermediate, cn="Same org, other key", key=new_key("rsa"))
    xpath = "http://www.w3.org/TR/1999/REC-xpath-19991116"
    return [
        ("subject changed after signing", edit(good, _change_subject),
         "signature_digest_mismatch"),
        ("signature value flipped", edit(good, _flip_value), "signature_invalid"),
        ("signed To duplicated", edit(good, _duplicate_to), "signature_digest_mismatch"),
        ("signed To commented out", edit(good, _comment_out_to), "signature_digest_mismatch"),
        ("comment splits signed text", sign_edxml(RAW, leaf, tamper=_split_subject),
         "signature_text_split"),
        ("partial reference to the header only", sign_edxml(RAW, leaf, references=["#hdr"],
                                                            tamper=lambda r, s: message_header(
                                                                r).set("Id", "hdr")),
         "signature_not_whole_package"),
        ("#Id shared by a property and the header",
         sign_edxml(RAW, leaf, references=["", "#hdr"], tamper=_duplicate_id_property),
         "signature_not_whole_package"),
        ("xpointer reference", sign_edxml(RAW, leaf, references=["#xpointer(/)"]),
         "signature_not_whole_package"),
        ("reference without URI", sign_edxml(RAW, leaf, tamper=_drop_uri),
         "signature_not_whole_package"),
        ("two whole-package references", sign_edxml(RAW, leaf, references=["", ""]),
         "signature_not_whole_package"),
        ("reference to an outside URL",
         sign_edxml(RAW, leaf, references=["", "http://evil.example/package.edxml"]),
         "signature_reference_external"),
        ("only an outside URL", sign_edxml(RAW, leaf, references=["file:///etc/passwd"]),
         "signature_reference_external"),
        ("KeyInfo RetrievalMethod", sign_edxml(RAW, leaf, tamper=_retrieval_method),
         "signature_reference_external"),
        ("second signature", edit(good, _second_signature), "signature_multiple"),
        ("HMAC keyed with the public certificate",
         sign_edxml(RAW, None, method="hmac-sha256", certs=[leaf.cert],
                    hmac_key=leaf.cert.public_bytes(serialization.Encoding.DER)),
         "signature_algorithm_refused"),
        ("a raw key without a certificate",
         sign_edxml(RAW, leaf, certs=[], key_value=leaf.key.public_key()),
         "certificate_missing"),
        ("signed package wrapped inside the signature, forged one outside",
         sign_edxml(RAW, leaf, tamper=_wrap_original_in_object(good, keep_signature=True)),
         "signature_multiple"),
        ("package content wrapped in an unreferenced Object, forged one outside",
         sign_edxml(RAW, leaf, tamper=_wrap_original_in_object(good)),
         "signature_unsigned_content"),
        ("wrapped package referenced by #Id instead of the package",
         sign_edxml(RAW, leaf, references=["#wrapped"], tamper=_wrap_original_in_object(good)),
         "signature_not_whole_package"),
        ("signature inside MessageHeader", sign_edxml(RAW, leaf, tamper=_move_into_header),
         "signature_misplaced"),
        ("signature under the root", sign_edxml(RAW, leaf, tamper=_move_to_root),
         "signature_misplaced"),
        ("signature inside an attachment", sign_edxml(RAW, leaf, tamper=_into_attachment),
         "signature_misplaced"),
        ("XPath filter transform", sign_edxml(RAW, leaf, transforms=[ENVELOPED, xpath]),
         "signature_transform_refused"),
        ("no enveloped transform", sign_edxml(RAW, leaf, transforms=[C14N["exc"]]),
         "signature_transform_refused"),
        ("certificate of the sender, key of someone else",
         sign_edxml(RAW, leaf, certs=other_key.certs), "signature_invalid"),
        ("characters before the XML declaration", b"1212" + good,
         "signature_not_whole_package"),
        ("signature stripped", edit(good, _strip), "signature_missing"),
        ("signature downgraded to a placeholder block", edit(good, _downgrade),
         "signature_missing"),
    ]


def _case_ids() -> list[str]:
    return [name for name, _, _ in wrapping_cases(shared_pki())]


@pytest.mark.parametrize("index", range(len(_case_ids())), ids=_case_ids())
def test_wrapping_and_stripping_are_refused_with_their_code(
        verifier: SignatureVerifier, pki: Pki, index: int) -> None:
    name, raw, code = wrapping_cases(pki)[index]
    exc = refused(verifier, raw)
    assert exc.code == code, f"{name}: {exc.code}: {exc.detail}"


def test_the_wrapping_cases_start_from_a_package_that_verifies(verifier: SignatureVerifier,
                                                               pki: Pki) -> None:
    # the variants above differ from this one only by what their names say
    assert check(verifier, sign_edxml(RAW, pki.leaf("rsa"))).signed
    assert len(_case_ids()) >= 15


def test_the_digest_covers_the_attachments(verifier: SignatureVerifier, pki: Pki) -> None:
    signed = sign_edxml(RAW, pki.leaf("rsa"))
    root = parse(signed)
    content = root.find(f".//{{{EDXML}}}ContentTransferEncoded")
    assert content is not None and content.text
    content.text = content.text[:-8] + "AAAAAAAA"
    assert refused(verifier, serialise(root)).code == "signature_digest_mismatch"


def test_ds_namespace_is_what_makes_a_signature(pki: Pki) -> None:
    # a sanity check of the test signer: it writes an XML-DSig element with the chain
    signed = sign_edxml(RAW, pki.leaf("rsa"))
    sig = ds_signature(parse(signed))
    assert sig.tag == f"{{{DS}}}Signature"
    assert len(sig.findall(f".//{q('X509Certificate')}")) == 2


def _inflate(raw: bytes, size: int) -> bytes:
    """The package with its attachment grown to `size` bytes of base64 text."""
    start = raw.index(b"<edXML:ContentTransferEncoded")
    start = raw.index(b">", start) + 1
    end = raw.index(b"</edXML:ContentTransferEncoded>", start)
    return raw[:start] + b"QUJD" * (size // 4) + raw[end:]


def test_a_text_node_over_10_mb_cannot_be_verified_but_can_be_carried_unsigned(
        verifier: SignatureVerifier, pki: Pki) -> None:
    big = 11 * 1024 * 1024
    signed = _inflate(sign_edxml(RAW, pki.leaf("rsa")), big)
    assert refused(verifier, signed).code == "signature_package_too_large"
    # the SDK placeholder of edoc.edxml is in the xmldsig namespace: still carried unsigned
    placeholder = corpus("edoc.edxml").replace(b"${__StringFromFile(test.txt,,,)}",
                                               b"QUJD" * (big // 4))
    verdict = check(verifier, placeholder, mode="if-present")
    assert verdict.status == "unsigned" and verdict.warnings


def test_cdata_in_signed_text_is_read_whole(verifier: SignatureVerifier, pki: Pki) -> None:
    from core.model import Kind
    from core.settings import Settings
    from schemas.edxml_codec import EdxmlCodec

    signed = sign_edxml(RAW, pki.leaf("rsa"))
    subject = "V/v kết nối, liên thông phần mềm quản lý văn bản"
    split = subject[:8] + "]]><![CDATA[" + subject[8:]
    cdata = signed.replace(f">{subject}<".encode(), f"><![CDATA[{split}]]><".encode())
    assert cdata != signed
    assert check(verifier, cdata).signed  # C14N reads CDATA as the text it holds
    assert EdxmlCodec(Settings()).read(cdata, Kind.DOCUMENT).subject == subject


def test_trust_anchor_paths_must_exist(tmp_path: Path) -> None:
    from core.settings import Settings
    from security.signatures.pki import TrustStoreError
    from security.signatures.verifier import SignatureVerifier

    settings = Settings(signatures={"trust_anchors": [tmp_path / "missing"]})
    with pytest.raises(TrustStoreError):
        SignatureVerifier(settings.signatures, settings.limits)
