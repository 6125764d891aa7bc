"""What the benchmark sends: packages of a given size, addressed inside a bench directory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from routing.directory import Directory

SENDER = "000.00.00.H57"
RECIPIENTS = ("000.00.02.H57", "000.00.21.H57", "000.01.21.H57")
BENCH_KEY = "bench-key-province"


def bench_directory() -> Directory:
    digest = "sha256:" + hashlib.sha256(BENCH_KEY.encode()).hexdigest()
    orgs = [{"code": SENDER, "name": "UBND thành phố Huế", "level": "province"}]
    orgs += [{"code": c, "name": f"Đơn vị {c}", "level": "department", "parent": SENDER}
             for c in RECIPIENTS]
    systems = [
        {"id": "bench-sender", "organizations": [SENDER], "api_key_hashes": [digest],
         "receive": {"mode": "pull"}},
        {"id": "bench-receiver", "organizations": list(RECIPIENTS), "receive": {"mode": "pull"}},
    ]
    return Directory.from_dict({"organizations": orgs, "systems": systems})


def json_document(n: int, size: int) -> bytes:
    """A JSON-form document of about `size` bytes with a unique DocumentId."""
    doc: dict[str, Any] = {
        "from": {"organId": SENDER, "organName": "Ủy ban nhân dân thành phố Huế",
                 "organAdd": "16 Lê Lợi, thành phố Huế", "email": "ubnd@hue.gov.vn"},
        "to": [{"organId": c, "organName": f"Đơn vị {c}"} for c in RECIPIENTS],
        "documentId": f"{SENDER},2026/11/27,{n}/QĐ-UBND",
        "code": {"codeNumber": str(n % 10**9), "codeNotation": "QĐ-UBND"},
        "promulgationInfo": {"place": "Huế", "promulgationDate": "2026/11/27"},
        "documentType": {"type": "1", "typeName": "Quyết định"},
        "subject": "Quyết định về việc phê duyệt kế hoạch chuyển đổi số năm 2026",
        "content": "",
        "signerInfo": {"competence": "TM. UBND", "position": "Chủ tịch",
                       "fullName": "Nguyễn Văn A"},
        "otherInfo": {"priority": "0", "promulgationAmount": "10", "pageAmount": "3"},
    }
    base = len(json.dumps(doc, ensure_ascii=False).encode())
    filler = "Nội dung văn bản. "
    doc["content"] = (filler * (max(0, size - base) // len(filler.encode()) + 1))
    raw = json.dumps(doc, ensure_ascii=False).encode()
    return raw[: len(raw)] if len(raw) <= size + 64 else _trim(doc, size)


def _trim(doc: dict[str, Any], size: int) -> bytes:
    while True:
        raw = json.dumps(doc, ensure_ascii=False).encode()
        if len(raw) <= size + 16:
            return raw
        doc["content"] = doc["content"][: -max(1, (len(raw) - size) // 2)]


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # bare | hub
    path: str
    content_type: str
    size: int
    make: Any  # (n, size) -> bytes
    headers: dict[str, str]
    # another scenario this one is read against (besides the bare endpoint of its size)
    baseline: str | None = None


def scenarios() -> list[Scenario]:
    auth = {"Authorization": f"Bearer {BENCH_KEY}"}
    out = [
        Scenario("bare endpoint, 5 KB", "bare", "/bare", "application/json", 5 * 1024,
                 json_document, {}),
        Scenario("POST /api/v1/documents JSON, 5 KB", "hub", "/api/v1/documents",
                 "application/json", 5 * 1024, json_document, auth),
    ]
    from bench.edxml_scenarios import edxml_scenarios
    from bench.signed_scenarios import signed_scenarios

    out.append(Scenario("bare endpoint, 100 KB", "bare", "/bare", "application/json",
                        100 * 1024, json_document, {}))
    return out + edxml_scenarios(auth) + signed_scenarios(auth)
