"""`lienthong routes explain`: each rule matched or not and why, the groups expanded, the final
recipients and systems, `--json` for scripts; exit 1 when the hub would refuse the package,
2 when the rules cannot be read; nothing is sent (no hub runs, sockets are blocked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli import app
from schemas.mapping import json_to_edxml
from tests.support import ROOT, document, said

EXAMPLE_RULES = ROOT / "config" / "routing-rules.example.yaml"
OFFICE, HOME = "000.00.01.H57", "000.00.02.H57"


@pytest.fixture(autouse=True)
def example_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo directory (the default) and the example rules shipped under config/."""
    monkeypatch.setenv("LIENTHONG_ROUTING__RULES_FILE", str(EXAMPLE_RULES))


def package(tmp_path: Path, doc: dict[str, Any], edxml: bool = False) -> str:
    path = tmp_path / ("package.edxml" if edxml else "package.json")
    path.write_bytes(json_to_edxml(doc) if edxml else json.dumps(doc).encode())
    return str(path)


def explain(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["routes", "explain", *args])
    return result.exit_code, result.output


def test_each_rule_is_told_then_the_recipients_and_their_systems(tmp_path: Path) -> None:
    code, out = explain(package(tmp_path, document(15, to=(HOME,)), edxml=True))
    assert code == 0, out
    told = said(out)
    assert ("rule archive-provincial-decisions (copy_to): matched kind is document; document "
            "type 'Quyết định' is one of Quyết định, Chỉ thị; sender 000.00.00.H57 is in "
            "000.00.00.H57") in told
    assert ("rule no-secret-documents (refuse): not matched notation 'QĐ-UBND' does not match "
            "regex '-MAT$'") in told
    assert "rule urgent-to-communes-copy-district (copy_to): not matched priority 0 is below 3" \
        in told
    assert "recipients -> systems (2):" in out
    assert f"{HOME} -> qlvb-so-noi-vu (push)" in out
    assert f"{OFFICE} -> qlvb-tinh (push) (copy, rule archive-provincial-decisions)" in told


def test_groups_are_expanded_in_the_explanation(tmp_path: Path) -> None:
    letter = {"type": "1", "typeName": "Công văn"}
    code, out = explain(package(tmp_path, document(16, to=("@communes.21", "@communes.23"),
                                                   otherInfo={"priority": "3"},
                                                   documentType=letter)))
    assert code == 0, out
    told = said(out)
    assert ("group @communes.21 (Các xã thuộc huyện Phong Điền): 2 unit(s): 000.01.21.H57, "
            "000.02.21.H57") in told
    assert ("rule urgent-to-communes-copy-district (copy_to): matched priority 3 is at least "
            "3; 3 of 3 recipient(s) of level commune") in told
    assert "000.00.21.H57 -> qlvb-phong-dien (pull) (copy, rule urgent-to-communes-copy-" \
           "district)" in told


def test_json_for_scripts(tmp_path: Path) -> None:
    code, out = explain(package(tmp_path, document(17, to=("@departments",))), "--json")
    assert code == 0, out
    found = json.loads(out)
    assert (found["accepted"], found["system"], found["kind"]) == (True, "qlvb-tinh",
                                                                   "document")
    assert [g["code"] for g in found["groups"]] == ["@departments"]
    assert [(r["rule"], r["matched"]) for r in found["rules"]] == [
        ("archive-provincial-decisions", True), ("no-secret-documents", False),
        ("urgent-to-communes-copy-district", False)]
    assert [(r["recipient"], r["system"], r["mode"]) for r in found["routes"]] == [
        (OFFICE, "qlvb-tinh", "push"), (HOME, "qlvb-so-noi-vu", "push"),
        ("000.00.03.H57", "qlvb-so-tai-chinh", "push")]
    assert found["refusal"] is None


def test_a_package_the_hub_would_refuse_exits_1_saying_why(tmp_path: Path) -> None:
    secret = document(18, to=(HOME,), code={"codeNumber": "18", "codeNotation": "QĐ-MAT"})
    code, out = explain(package(tmp_path, secret))
    assert code == 1, out
    told = said(out)
    assert "rule no-secret-documents (refuse): matched notation 'QĐ-MAT' matches regex" in told
    assert ("refused 422 secret_not_carried: Secret documents are not sent through the "
            "provincial hub (routing rule 'no-secret-documents')") in told
    assert "Văn bản mật không được gửi qua trục liên thông của tỉnh" in told
    assert "recipients -> systems" not in out

    code, out = explain(package(tmp_path, secret), "--json")
    assert code == 1
    refusal = json.loads(out)["refusal"]
    assert (refusal["code"], refusal["status"]) == ("secret_not_carried", 422)

    code, out = explain(package(tmp_path, document(19, to=("@nowhere",))))
    assert code == 1
    assert "refused 422 unknown_recipient" in out and "/to/0/organId" in out


def test_as_another_system_is_authorised_as_the_hub_would(tmp_path: Path) -> None:
    code, out = explain(package(tmp_path, document(20, to=(HOME,))), "--as", "qlvb-phu-vang")
    assert code == 1
    assert "refused 403 sender_not_served" in said(out)
    code, out = explain(package(tmp_path, document(20, to=(HOME,))), "--as", "nobody")
    assert code == 2 and "system nobody is not in the directory" in out


def test_a_bad_rules_file_exits_2_naming_the_rule(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"rules": [{"name": "odd", "when": {"kind": "memo"},
                                                "copy_to": [OFFICE]}]}), encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_ROUTING__RULES_FILE", str(rules))
    code, out = explain(package(tmp_path, document(21, to=(HOME,))))
    assert code == 2
    assert f"routing rules {rules} are invalid: rule 1 ('odd'), when.kind" in said(out)


def test_the_example_rules_fit_the_demo_directory() -> None:
    from core.settings import DEMO_DIRECTORY
    from routing.directory import Directory
    from routing.rules import configured_rules

    rules = configured_rules(EXAMPLE_RULES, Directory.from_file(DEMO_DIRECTORY))
    assert len(rules.rules) == 3
