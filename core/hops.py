"""Hub-to-hub hops: the hubs a package passed through, carried beside the package.

A package forwarded from one lienthong hub to another keeps its bytes (a signature over
them, and over an edXML TraceHeaderList, would break otherwise); each hub it passes
through is named in the `X-Lienthong-Hops` HTTP header instead, one entry per hub, oldest
first: `ORGAN_ID;TIMESTAMP;MESSAGE_ID`, entries separated by commas. A hub that finds its
own organ id among the hops refuses the package (`federation_loop`), so a directory that
routes a unit back where it came from cannot make a package circle.

    MalformedInput (hops_invalid)    the header is not a list of hops, or is too long
    Conflict (federation_loop)       the package already passed through this hub
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from core.errors import Conflict, FieldError, MalformedInput

HOPS_HEADER = "X-Lienthong-Hops"
# far more than any real path (province -> ministry -> national); a longer list is refused
MAX_HOPS = 16
_ORGAN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_MESSAGE = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class Hop:
    """One hub a package passed through: the hub's organ id, when it sent the package on
    and the id it gave the package there."""

    organ_id: str
    timestamp: str
    message_id: str

    def as_dict(self) -> dict[str, str]:
        return {"organId": self.organ_id, "timestamp": self.timestamp,
                "messageId": self.message_id}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Hop:
        return cls(data["organId"], data["timestamp"], data["messageId"])

    @classmethod
    def now(cls, organ_id: str, message_id: str) -> Hop:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(organ_id, stamp, message_id)


def format_hops(hops: tuple[Hop, ...]) -> str:
    """The header value for `hops`, oldest first."""
    return ", ".join(f"{h.organ_id};{h.timestamp};{h.message_id}" for h in hops)


def parse_hops(value: str | None) -> tuple[Hop, ...]:
    """The hops a header value names (none for a missing or empty header).

    Raises MalformedInput (`hops_invalid`) when an entry is not `ORGAN_ID;TIMESTAMP;ID`,
    its timestamp is not ISO 8601, or there are more than MAX_HOPS entries.
    """
    if value is None or not value.strip():
        return ()
    entries = [e.strip() for e in value.split(",")]
    if len(entries) > MAX_HOPS:
        raise _invalid(f"{len(entries)} hops, more than the {MAX_HOPS} a path may have",
                       f"{len(entries)} chặng, quá {MAX_HOPS} chặng cho phép")
    hops = []
    for i, entry in enumerate(entries):
        parts = [p.strip() for p in entry.split(";")]
        if len(parts) != 3 or not _ORGAN.match(parts[0]) or not _MESSAGE.match(parts[2]) \
                or not _iso(parts[1]):
            raise _invalid(f"hop {i + 1} {entry[:80]!r} is not ORGAN_ID;TIMESTAMP;MESSAGE_ID",
                           f"chặng {i + 1} {entry[:80]!r} không có dạng "
                           "MÃ_ĐỊNH_DANH;THỜI_ĐIỂM;MÃ_GÓI_TIN", index=i)
        hops.append(Hop(parts[0], parts[1], parts[2]))
    return tuple(hops)


def refuse_loop(hops: tuple[Hop, ...], own_organ_id: str) -> None:
    """Raises Conflict (`federation_loop`) when this hub is already among the hops."""
    for i, hop in enumerate(hops):
        if hop.organ_id == own_organ_id:
            path = " -> ".join(h.organ_id for h in hops)
            raise Conflict(
                f"the package already passed through this hub ({own_organ_id}) as message "
                f"{hop.message_id}: it went {path} and would loop; correct the routing of "
                "the hub that sent it",
                code="federation_loop",
                errors=[FieldError(f"/{HOPS_HEADER}/{i}",
                                   f"{own_organ_id} is this hub",
                                   f"{own_organ_id} là trục này")],
                detail_vi=f"Gói tin đã đi qua trục này ({own_organ_id}) với mã "
                          f"{hop.message_id}: đường đi {path} sẽ thành vòng lặp; cần sửa "
                          "định tuyến của trục đã gửi",
            )


def _iso(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _invalid(detail: str, detail_vi: str, index: int | None = None) -> MalformedInput:
    path = f"/{HOPS_HEADER}" + ("" if index is None else f"/{index}")
    return MalformedInput(f"{HOPS_HEADER}: {detail}", code="hops_invalid",
                          errors=[FieldError(path, detail, detail_vi)],
                          detail_vi=f"{HOPS_HEADER}: {detail_vi}")
