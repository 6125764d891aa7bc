"""`lienthong demo` runs the whole walkthrough in embedded mode from an empty directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port

pytestmark = pytest.mark.e2e


def test_demo_walks_documents_and_statuses_through(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--exit", "--port", str(free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "audit chain: intact" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    states = [[cell.strip() for cell in row.split("│")][6] for row in rows]
    assert states == ["delivered"] * 9, out  # nine deliveries in the table, every one made
    assert "dead" not in out
    assert "statuses delivered back to the province's system: 13" in out
    # one directive to the whole province: every unit of the demo directory with a system
    # (but the sender), once each
    assert "-> @all (the whole province): 9 units" in out
    units = [line.split()[0] for line in out.splitlines() if line.startswith("  000.")]
    assert sorted(units) == sorted(["000.00.01.H57", "000.00.02.H57", "000.00.03.H57",
                                    "000.00.21.H57", "000.00.23.H57", "000.00.26.H57",
                                    "000.01.21.H57", "000.02.21.H57", "000.01.23.H57"]), out
    assert "pushes the simulated systems received for it: 5, one per unit" in out
    assert (tmp_path / "var" / "lienthong.db").exists()  # embedded: SQLite under ./var
