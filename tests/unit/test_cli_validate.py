"""`lienthong validate`: every error with its path, every warning on a line of its own, exit 1
when any file is invalid (under the profile given, the sender's, or the settings')."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.deviation_cases import CASES, Deviation
from tests.support import CORPUS, said


def test_valid_corpus_files_exit_zero() -> None:
    files = [str(CORPUS / n) for n in ("edoc_update.edxml", "status_finish_06.edxml")]
    result = CliRunner().invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert result.output.count("valid") == 2 and "invalid" not in result.output


def test_invalid_file_names_path_line_and_both_languages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.edxml"
    bad.write_bytes((CORPUS / "status_finish_06.edxml").read_bytes()
                    .replace(b"<edXML:StatusCode>06<", b"<edXML:StatusCode>07<"))
    good = CORPUS / "edoc_update.edxml"
    result = CliRunner().invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"invalid {bad}" in said(result.output)
    assert "/StatusCode" in result.output and "(line " in said(result.output)
    assert "07" in result.output


def test_attachment_policy_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # edoc.edxml's attachment is a template placeholder, not base64
    strict = CliRunner().invoke(app, ["validate", str(CORPUS / "edoc.edxml")])
    assert strict.exit_code == 1 and "base64" in strict.output
    monkeypatch.setenv("LIENTHONG_VALIDATION__ATTACHMENT_BASE64", "warn")
    lenient = CliRunner().invoke(app, ["validate", str(CORPUS / "edoc.edxml")])
    assert lenient.exit_code == 0, lenient.output


def _write(tmp_path: Path, case: Deviation) -> str:
    path = tmp_path / ("package.json" if case.form.value == "json" else "package.edxml")
    path.write_bytes(case.raw)
    return str(path)


def test_warnings_are_printed_one_a_line_and_exit_zero(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.code == "value_too_long")
    package = _write(tmp_path, case)
    result = CliRunner().invoke(app, ["validate", package], terminal_width=400)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # the length, and the signature step's note on the package's placeholder Signature
    assert [line.split(") ")[1].split(":")[0] for line in lines
            if line.startswith("warning")] == ["value_too_long", "signature_placeholder"]
    [at] = [i for i, line in enumerate(lines) if "value_too_long" in line]
    assert lines[at] == (f"warning {package}: {case.path} (line {case.line}) value_too_long: "
                         "expected at most 11 characters, found 14")
    assert lines[at + 1].strip() == "tối đa 11 ký tự, nhận được 14"
    assert lines[0].startswith(f"valid   {package}") and "(profile interop)" in lines[0]


def test_the_strict_profile_turns_warnings_into_errors(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.code == "recipient_repeated")
    package = _write(tmp_path, case)
    result = CliRunner().invoke(app, ["validate", "--profile", "strict", package],
                                terminal_width=400)
    assert result.exit_code == 1, result.output
    assert f"invalid {package}" in result.output
    assert (f"  {case.path} (line {case.line}) recipient_repeated: expected each recipient "
            "once, found 000.00.00.H41 again") in result.output
    assert "mỗi nơi nhận chỉ ghi một lần" in result.output
    assert not [line for line in result.output.splitlines() if line.startswith("warning")]


def test_a_json_package_with_deviations(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.form.value == "json" and c.code == "date_format")
    package = _write(tmp_path, case)
    lenient = CliRunner().invoke(app, ["validate", package], terminal_width=400)
    assert lenient.exit_code == 0, lenient.output
    assert f"warning {package}: {case.path} date_format: expected a date" in lenient.output
    strict = CliRunner().invoke(app, ["validate", "--profile", "strict", package],
                                terminal_width=400)
    assert strict.exit_code == 1 and f"{case.path} date_format" in strict.output


def test_the_sending_systems_profile_applies_offline(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text(
        "organizations:\n"
        "  - {code: 000.00.00.G22, name: VPCP, level: external}\n"
        "systems:\n"
        "  - {id: vpcp, organizations: [000.00.00.G22], validation: {profile: strict}}\n",
        encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_DIRECTORY_FILE", str(directory))
    case = next(c for c in CASES if c.code == "trace_order")
    package = _write(tmp_path, case)
    result = CliRunner().invoke(app, ["validate", package], terminal_width=400)
    assert result.exit_code == 1, result.output
    assert "trace_order" in result.output and "(profile strict)" in result.output
    # --profile says otherwise
    result = CliRunner().invoke(app, ["validate", "--profile", "interop", package],
                                terminal_width=400)
    assert result.exit_code == 0, result.output


def test_an_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--profile", "lenient", str(CORPUS /
                                                                            "status.edxml")])
    assert result.exit_code == 2


def test_the_load_test_template_says_why_it_is_refused() -> None:
    result = CliRunner().invoke(app, ["validate", str(CORPUS / "edoc.edxml")],
                                terminal_width=400)
    assert result.exit_code == 1
    assert ("/edXML/AttachmentEncoded/Attachment/ContentTransferEncoded (line 130) "
            "attachment_not_base64: expected the attachment's content in base64, found text "
            "'${__StringFromFile(test.txt,,,)}' that is not base64") in result.output
