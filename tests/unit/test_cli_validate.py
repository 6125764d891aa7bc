"""`lienthong validate`: every error with its path, exit 1 when any file is invalid."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
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
