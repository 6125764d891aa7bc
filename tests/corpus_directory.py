"""A directory that knows every organisation of the edXML corpus, with one system each."""

from __future__ import annotations

from typing import Any

from routing.directory import Directory
from tests.support import key_hash

# organisation code -> (system id, name); the corpus's own identifiers, one non-standard
CORPUS_ORGS = {
    "000.00.00.G22": ("vpcp", "Văn phòng Chính phủ"),
    "002.00.20.H13": ("h13", "Văn phòng Chính phủ (mã QCVN 102)"),
    "000.00.00.H41": ("nghean", "UBND tỉnh Nghệ An"),
    "000.00.00.H14": ("h14", "UBND tỉnh H14"),
    "000.00.00.G17": ("g17", "Bộ G17"),
    "28.22.H17": ("h17", "Đơn vị 28.22.H17"),
    "000.00.15.H51": ("h51", "Trung tâm test production"),
    "000.00.00.A80": ("a80", "Đơn vị 000.00.00.A80"),
    "000.00.00.K19": ("k19", "Đơn vị 000.00.00.K19"),
    "000.00.50.H19": ("h19", "Sở Thông tin và Truyền thông (000.00.50.H19)"),
}
CORPUS_KEYS = {system: f"key-{system}" for system, _ in CORPUS_ORGS.values()}


def corpus_directory(receive: dict[str, dict[str, Any]] | None = None,
                     signatures: dict[str, dict[str, Any]] | None = None) -> Directory:
    """Every corpus organisation served by its own system; systems pull unless `receive`
    gives a system id another way of receiving (a `Receive` mapping); `signatures` gives a
    system its signature rules (a `SignatureRules` mapping)."""
    receive = receive or {}
    signatures = signatures or {}
    orgs = [{"code": code, "name": name, "level": "external"}
            for code, (_, name) in CORPUS_ORGS.items()]
    systems = [
        {"id": system, "organizations": [code],
         "api_key_hashes": [key_hash(CORPUS_KEYS[system])],
         "receive": receive.get(system, {"mode": "pull", "format": "edxml"}),
         "signatures": signatures.get(system)}
        for code, (system, _) in CORPUS_ORGS.items()
    ]
    return Directory.from_dict({"organizations": orgs, "systems": systems})
