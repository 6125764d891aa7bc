"""`lienthong send` submits packages to a running hub and says what became of each."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hub.cli import app
from tests.support import (
    DEPARTMENT,
    KEYS,
    Receiver,
    body,
    document,
    hue_directory,
    run_hub,
    said,
)


def test_send_reports_accepted_and_refused(tmp_path: Path, make_settings,
                                           receiver: Receiver) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(body(document(401, to=(DEPARTMENT,))))
    bad = tmp_path / "bad.json"
    bad.write_bytes(body(document(402, to=("000.00.77.H57",))))
    with run_hub(make_settings(), hue_directory(receiver.url)) as hub:
        result = CliRunner().invoke(app, ["send", str(good), str(bad), "--as",
                                          KEYS["province"], "--url", hub.url])
    assert result.exit_code == 1, result.output
    assert "good.json: accepted as" in said(result.output)
    assert "422 unknown_recipient" in said(result.output) and "/to/0/organId" in result.output
