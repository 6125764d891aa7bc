"""`lienthong validate --signatures ... --trust-anchors ... --crl ...`: every package valid
under the policy exits 0; any refusal exits 1 with its code and sentence per package."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from schemas.mapping import edxml_to_json
from tests.edxml_support import CORPUS, corpus
from tests.jwsign import dumps, sign_json
from tests.pki import Pki, shared_pki
from tests.xmlsign import sign_edxml


@pytest.fixture(scope="module")
def pki() -> Pki:
    return shared_pki()


@pytest.fixture
def trust(pki: Pki, tmp_path: Path) -> tuple[Path, Path]:
    return pki.write(tmp_path / "trust")


def write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", *args], terminal_width=400)
    return result.exit_code, result.output


def test_signed_packages_are_valid_under_required(pki: Pki, trust: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    anchors, crls = trust
    xml = write(tmp_path, "pss.edxml", sign_edxml(corpus("edoc_new.edxml"), pki.leaf("rsa"),
                                                 method="rsa-pss-sha256"))
    ec = write(tmp_path, "ec.edxml", sign_edxml(corpus("edoc_new.edxml"), pki.leaf("ec"),
                                               method="ecdsa-sha256"))
    js = write(tmp_path, "doc.json", dumps(sign_json(edxml_to_json(corpus("edoc_new.edxml")),
                                                     pki.leaf("rsa"))))
    code, out = run("--signatures", "required", "--trust-anchors", str(anchors),
                    "--crl", str(crls), xml, ec, js)
    assert code == 0, out
    lines = out.splitlines()
    assert sum(line.startswith("valid ") for line in lines) == 3, out
    assert not any(line.startswith("invalid") for line in lines)
    assert "signed by CN=Văn thư VPCP (RSA)" in out and "rsa-pss-sha256" in out
    assert "ecdsa-sha256" in out and "(unsigned)" not in out


def test_each_refused_package_says_its_code_in_both_languages(
        pki: Pki, trust: tuple[Path, Path], tmp_path: Path) -> None:
    anchors, crls = trust
    good = write(tmp_path, "good.edxml", sign_edxml(corpus("edoc_new.edxml"), pki.leaf("rsa")))
    expired = write(tmp_path, "expired.edxml",
                    sign_edxml(corpus("edoc_new.edxml"), pki.leaf("expired")))
    unsigned = str(CORPUS / "status.edxml")
    code, out = run("--signatures", "required", "--trust-anchors", str(anchors),
                    "--crl", str(crls), good, expired, unsigned)
    assert code == 1, out
    assert f"valid   {good}" in out
    assert f"invalid {expired}" in out and "certificate_expired: the signing certificate has " \
        "expired" in out and "chứng thư số ký đã hết hạn" in out
    assert f"invalid {unsigned}" in out and "signature_missing:" in out


def test_revocation_is_checked_against_the_crls_given(pki: Pki, trust: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    anchors, crls = trust
    revoked = write(tmp_path, "revoked.edxml",
                    sign_edxml(corpus("edoc_new.edxml"), pki.leaf("revoked")))
    code, out = run("--signatures", "required", "--trust-anchors", str(anchors),
                    "--crl", str(crls / "intermediate.crl"), revoked)
    assert code == 1 and "certificate_revoked" in out, out
    # without the CRL nothing says it is revoked
    code, out = run("--signatures", "required", "--trust-anchors", str(anchors), revoked)
    assert code == 0, out


def test_placeholders_pass_if_present_with_a_warning_and_fail_required(
        trust: tuple[Path, Path]) -> None:
    anchors, _ = trust
    placeholder = str(CORPUS / "edoc_update.edxml")
    code, out = run("--signatures", "if-present", "--trust-anchors", str(anchors), placeholder)
    assert code == 0, out
    assert "(unsigned)" in out
    assert any(line.startswith("warning") and "edXML namespace" in line
               for line in out.splitlines()), out
    code, out = run("--signatures", "required", "--trust-anchors", str(anchors), placeholder)
    assert code == 1 and "signature_missing" in out and "placeholder" in out


def test_off_checks_no_signature(pki: Pki, tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.edxml",
                   sign_edxml(corpus("edoc_new.edxml"), pki.leaf("expired")))
    code, out = run("--signatures", "off", broken)
    assert code == 0 and "(signatures not checked)" in out, out


def test_a_missing_trust_anchor_path_is_an_error(tmp_path: Path) -> None:
    code, out = run("--signatures", "required", "--trust-anchors", str(tmp_path / "none"),
                    str(tmp_path / "x.edxml"))
    assert code == 2 and "does not exist" in out


def test_an_unknown_policy_is_refused() -> None:
    code, out = run("--signatures", "sometimes", "x.edxml")
    assert code == 2 and "required, if-present or off" in out
