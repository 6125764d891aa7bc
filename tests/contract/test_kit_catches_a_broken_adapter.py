"""The kit fails a broken adapter, each test with a message that says what to fix."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support import ROOT

# each test of the kit, and what its failure must tell the adapter's developer
EXPECTED = {
    "test_has_a_short_name": "short lower-case word",
    "test_busy_receiver_is_transient": "returned as if delivered; raise TransientError",
    "test_refusing_receiver_is_permanent": "raised ValueError: bad status 400; raise "
                                           "PermanentError, usually DeliveryRejected",
    "test_unreachable_receiver_is_transient": "raised ConnectError",
    "test_a_slow_receiver_times_out_as_transient_within_timeout_s":
        "returned as if delivered; bound every exchange by the system's receive.timeout_s",
    "test_a_delivered_again_message_carries_the_same_hub_message_id":
        "send delivery.message_id (the same on every attempt)",
    "test_declares_its_contract": "declares no capabilities; add the class attribute",
    "test_its_options_model_refuses_wrong_options_naming_system_and_field":
        "declare `options = None` (it takes no receive.options) or an options model",
    "test_opens_no_connection_of_its_own": "uses httpx (httpx): reach the network only through "
                                           "the egress gateway",
    "test_nothing_leaves_outside_the_egress_gateway":
        "returned as if delivered; send through egress.for_system(delivery.system_id)",
    "test_reaches_only_its_own_systems_destinations":
        "returned as if delivered; send each delivery through egress.for_system",
}


def test_every_broken_promise_fails_with_what_to_fix(tmp_path: Path) -> None:
    report = tmp_path / "kit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(ROOT / "tests" / "contract" / "kit_broken.py"), f"--junitxml={report}"],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 1, run.stdout[-2000:]
    failures = {case.get("name"): " ".join((f.get("message") or "").split())
                for case in ET.parse(report).iter("testcase")
                for f in case.findall("failure")}
    assert sorted(failures) == sorted(EXPECTED), run.stdout[-3000:]
    for name, phrase in EXPECTED.items():
        assert phrase in failures[name], f"{name}: {failures[name]}"
