"""A clone of the project stands alone: nothing reads a folder beside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# a path out of the project into a sibling folder, written as a string or with pathlib
OUTSIDE = re.compile(r"\.\./shared|[\"']\.\.[\"']\s*/|parents\[\d\]\s*/\s*[\"']\.\.[\"']"
                     r"|/\s*[\"']shared[\"']\s*/")


def test_no_file_reads_a_folder_beside_the_project() -> None:
    offenders = []
    for path in ROOT.rglob("*"):
        if (not path.is_file() or path.suffix not in {".py", ".md", ".yml", ".yaml", ".toml"}
                and path.name not in {"Makefile", "Dockerfile"}):
            continue
        if any(part in {".venv", ".git", "var", "node_modules"} or part.startswith("mutants")
               for part in path.relative_to(ROOT).parts):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                      .splitlines(), 1):
            if OUTSIDE.search(line) and path.name != "test_stands_alone.py":
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "files reaching outside the project:\n" + "\n".join(offenders)
