"""`lienthong orgs import` merges CSV and JSON lists into the directory, or changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from core.settings import DEMO_DIRECTORY
from hub.cli import app
from routing.directory import Directory
from tests.support import said


@pytest.fixture
def directory_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "directory.yaml"
    shutil.copy(DEMO_DIRECTORY, path)
    monkeypatch.setenv("LIENTHONG_DIRECTORY_FILE", str(path))
    return path


def test_csv_adds_and_updates(directory_file: Path, tmp_path: Path) -> None:
    src = tmp_path / "orgs.csv"
    src.write_text("code,name,level,parent,aliases\n"
                   "000.00.00.G22,Văn phòng Chính phủ,external,,\n"
                   "000.00.02.H57,Sở Nội vụ thành phố Huế,department,000.00.00.H57,000.00.92.H57\n",
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["orgs", "import", str(src)])
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated" in said(result.output)
    d = Directory.from_file(directory_file)
    org = d.organization("000.00.92.H57")
    assert org is not None and org.name == "Sở Nội vụ thành phố Huế"
    assert d.knows("000.00.00.G22")


def test_national_list_json_field_names(directory_file: Path, tmp_path: Path) -> None:
    src = tmp_path / "agencies.json"
    src.write_text(json.dumps({"data": [
        {"agencyCode": "000.00.00.H41", "agencyName": "UBND tỉnh Nghệ An"},
        {"agencyCode": "000.00.00.H14", "agencyName": "UBND tỉnh Cao Bằng"}]}), encoding="utf-8")
    result = CliRunner().invoke(app, ["orgs", "import", str(src)])
    assert result.exit_code == 0, result.output
    d = Directory.from_file(directory_file)
    h41, h14 = d.organization("000.00.00.H41"), d.organization("000.00.00.H14")
    assert h41 is not None and (h41.name, h41.level.value) == ("UBND tỉnh Nghệ An", "external")
    assert h14 is not None and (h14.name, h14.level.value) == ("UBND tỉnh Cao Bằng", "external")


def test_broken_import_writes_nothing(directory_file: Path, tmp_path: Path) -> None:
    before = directory_file.read_bytes()
    src = tmp_path / "bad.csv"
    src.write_text("code,name,level,parent\n000.00.50.H57,Đơn vị,district,000.00.99.H57\n",
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["orgs", "import", str(src)])
    assert result.exit_code == 1 and "not imported" in said(result.output)
    assert "000.00.99.H57" in result.output
    assert directory_file.read_bytes() == before


def test_dry_run_reports_without_writing(directory_file: Path, tmp_path: Path) -> None:
    before = yaml.safe_load(directory_file.read_text(encoding="utf-8"))
    src = tmp_path / "one.json"
    src.write_text(json.dumps([{"code": "000.00.00.G17", "name": "Bộ"}]), encoding="utf-8")
    result = CliRunner().invoke(app, ["orgs", "import", "--dry-run", str(src)])
    assert result.exit_code == 0 and "would change" in said(result.output)
    assert yaml.safe_load(directory_file.read_text(encoding="utf-8")) == before
