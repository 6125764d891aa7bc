"""Offline validation: form and kind found from the content, every error with its path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.model import Form, Kind
from core.settings import Settings
from schemas.mapping import edxml_to_json
from schemas.offline import inspect_file, validate_file
from tests.edxml_support import corpus, corpus_params, mutate


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(validation={"attachment_base64": "warn"})


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_files_are_valid(settings: Settings, path: Path) -> None:
    assert validate_file(path, settings) == []


def test_form_and_kind_come_from_the_content(settings: Settings, tmp_path: Path) -> None:
    status = tmp_path / "anything.bin"
    status.write_bytes(json.dumps(edxml_to_json(corpus("status.edxml"))).encode())
    report = inspect_file(status, settings)
    assert (report.form, report.kind, report.valid) == (Form.JSON, Kind.STATUS, True)
    document = tmp_path / "document.json"
    document.write_bytes(corpus("edoc_update.edxml"))
    report = inspect_file(document, settings)
    assert (report.form, report.kind, report.valid) == (Form.EDXML, Kind.DOCUMENT, True)


def test_errors_name_paths_and_lines(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.edxml"
    bad.write_bytes(mutate(corpus("status.edxml"), "<edXML:StatusCode>01<",
                           "<edXML:StatusCode>07<"))
    [error] = validate_file(bad, settings)
    assert error.path == "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/StatusCode"
    assert error.line == 28
    assert "07" in error.message and error.message_vi


def test_unreadable_and_hostile_files_are_reported_not_raised(settings: Settings,
                                                              tmp_path: Path) -> None:
    [missing] = validate_file(tmp_path / "missing.edxml", settings)
    assert missing.path == "/" and "cannot read the file" in missing.message
    hostile = tmp_path / "xxe.edxml"
    hostile.write_bytes(b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>')
    [error] = validate_file(hostile, settings)
    assert (error.path, error.line, error.as_dict()["code"]) == ("/", 1, "xml_doctype")
    assert "DOCTYPE" in error.message
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"from": ')
    [malformed] = validate_file(broken, settings)
    assert (malformed.path, malformed.line) == ("/", 1)
    assert malformed.message_vi == "cần JSON đúng cú pháp, gặp lỗi cú pháp tại cột 10"
