"""`lienthong orgs import`: merge organisations from CSV, JSON or the national list into the
directory file, checked as a whole before anything is written."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from routing.directory import Directory, DirectoryError

# the names other lists use for the same fields (the national platform's agency list among them)
CODE_KEYS = ("code", "organId", "organ_id", "agencyCode", "AgencyCode", "ma_dinh_danh",
             "maDinhDanh", "MaDinhDanh")
NAME_KEYS = ("name", "organName", "agencyName", "AgencyName", "ten", "ten_co_quan",
             "TenCoQuan")
PARENT_KEYS = ("parent", "parentCode", "parent_code", "ParentCode", "pcode")
LEVEL_KEYS = ("level", "cap")


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = record.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def read_records(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV file, or objects of a JSON list (bare, or under organizations/data/items).

    Raises DirectoryError when the file cannot be read as either.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DirectoryError(f"cannot read {path}: {exc}") from exc
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectoryError(f"{path} is neither CSV nor JSON: {exc}") from exc
    if isinstance(data, dict):
        for key in ("organizations", "data", "items", "result"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DirectoryError(f"{path}: expected a list of organisations")
    return data


def normalise(record: dict[str, Any], default_level: str, row: int) -> dict[str, Any]:
    code = _first(record, CODE_KEYS)
    name = _first(record, NAME_KEYS)
    if not code or not name:
        raise DirectoryError(f"record {row}: an organisation needs a code and a name")
    org: dict[str, Any] = {"code": code, "name": name,
                           "level": _first(record, LEVEL_KEYS) or default_level}
    parent = _first(record, PARENT_KEYS)
    if parent:
        org["parent"] = parent
    aliases = record.get("aliases")
    if isinstance(aliases, str) and aliases:
        org["aliases"] = [a.strip() for a in aliases.replace(",", ";").split(";") if a.strip()]
    elif isinstance(aliases, list):
        org["aliases"] = aliases
    return org


def merge(directory_file: Path, source: Path, default_level: str = "external",
          dry_run: bool = False) -> ImportReport:
    """Merge `source` into `directory_file`; validate the result; write it atomically.

    Raises DirectoryError when the source or the merged directory is invalid (nothing is
    written then).
    """
    current = yaml.safe_load(directory_file.read_text(encoding="utf-8")) or {}
    orgs: list[dict[str, Any]] = list(current.get("organizations", []))
    index = {o["code"]: i for i, o in enumerate(orgs)}
    report = ImportReport()
    for row, record in enumerate(read_records(source), start=1):
        org = normalise(record, default_level, row)
        position = index.get(org["code"])
        if position is None:
            index[org["code"]] = len(orgs)
            orgs.append(org)
            report.added.append(org["code"])
            continue
        merged = {**orgs[position], **org}
        if merged == orgs[position]:
            report.unchanged.append(org["code"])
        else:
            orgs[position] = merged
            report.updated.append(org["code"])
    current["organizations"] = orgs
    Directory.from_dict(current)  # the whole directory must still hold together
    if not dry_run:
        fd, tmp = tempfile.mkstemp(dir=directory_file.parent, prefix=".directory-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(current, fh, allow_unicode=True, sort_keys=False)
        os.replace(tmp, directory_file)
    return report
