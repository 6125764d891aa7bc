"""File drop: documents written into a folder an old system watches, packages read from one
it writes to.

Out: each delivery becomes `<hub message id>.edxml` (or `.json`, by `receive.format`) in the
folder of `receive.url` (`file:///srv/drop/qlvb/vao`), written atomically (a hidden temporary
file in the same folder, flushed to disk, then renamed), so the system never reads half a
file; the same message again replaces its file with the same bytes.

In (with `receive.poll_interval_s`): the hub polls `receive.options.in_dir` for `*.edxml` and
`*.json` files the system writes (documents, and status packages for documents it received),
oldest first, leaving hidden files (`.name`) and files younger than
`receive.options.min_age_s` (default 2 s: a system still writing) alone. A file the hub
stored is moved to `done/` beside them; one it refused to `failed/`, with the reason in
`<name>.reason.txt`. A file stays where it is until then, so nothing is lost if the hub stops
midway.

No network: the egress gateway is not involved.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from adapters.base import Capabilities, DeliveryResult, Fetched, Inbound, OutboundDelivery
from core.errors import AdapterMisconfigured, DeliveryRejected, TransientError
from routing.directory import Receive
from security.egress import Egress

SUFFIXES = (".edxml", ".json")
DONE, FAILED = "done", "failed"
# a status package names a StatusCode; a document never does (QCVN 102:2016)
_EDXML_STATUS = re.compile(rb"<([A-Za-z_][\w.-]*:)?StatusCode[\s>/]")


def folder_of(url: str | None) -> Path | None:
    """The absolute folder a `file://` URL names, or None when it names none."""
    parts = urlsplit(url or "")
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parts.path))
    return path if path.is_absolute() else None


def kind_of(payload: bytes, suffix: str) -> str:
    """document | status, read from the package itself."""
    if suffix == ".json":
        return "status" if re.search(rb'"statusCode"\s*:', payload) else "document"
    return "status" if _EDXML_STATUS.search(payload) else "document"


def write_atomically(path: Path, content: bytes, tag: str) -> None:
    """Write `content` at `path` whole or not at all. Raises OSError."""
    tmp = path.with_name(f".{path.name}.{tag}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(OSError):  # the rename itself made durable, where possible
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FileDropOptions(BaseModel):
    """`receive.options` of a file drop system (both optional: only polling needs in_dir)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_dir: str | None = None
    min_age_s: float = Field(default=2.0, ge=0)


class FileDropAdapter:
    """Writes deliveries into a folder; polls another (adapters/base.py Poller)."""

    name = "file"
    options = FileDropOptions
    capabilities = Capabilities(push=True, poll=True, forms=("json", "edxml"))

    def __init__(self, egress: Egress | None = None) -> None:
        self._egress = egress  # unused: a file drop opens no connection

    def check(self, system_id: str, receive: Receive) -> None:
        """Raises AdapterMisconfigured naming the system and the field: `receive.url` not a
        file:// URL of an existing folder, or `receive.options.in_dir` (needed to poll)
        missing or not a folder."""
        out = folder_of(receive.url)
        if out is None:
            raise AdapterMisconfigured(f"system {system_id}: receive.url {receive.url!r} is not "
                                       "a file:///absolute/folder URL")
        if not out.is_dir():
            raise AdapterMisconfigured(f"system {system_id}: receive.url names {out}, which is "
                                       "not an existing folder")
        in_dir = receive.options.get("in_dir")
        if receive.poll_interval_s is not None and not in_dir:
            raise AdapterMisconfigured(f"system {system_id}: receive.options.in_dir is not set; "
                                       "the hub polls that folder")
        if in_dir and not Path(in_dir).is_dir():
            raise AdapterMisconfigured(f"system {system_id}: receive.options.in_dir {in_dir} is "
                                       "not an existing folder")
        with contextlib.suppress(ValueError):
            float(receive.options.get("min_age_s", "2"))
            return
        raise AdapterMisconfigured(f"system {system_id}: receive.options.min_age_s is not a "
                                   "number of seconds")

    # -- out ------------------------------------------------------------------------------
    def deliver(self, delivery: OutboundDelivery) -> DeliveryResult:
        """Raises DeliveryRejected when receive.url names no folder, TransientError when the
        folder cannot be written now (a share not mounted, a full disk)."""
        out = folder_of(delivery.endpoint.url)
        if out is None:
            raise DeliveryRejected(f"system {delivery.system_id}: receive.url is not a file URL")
        suffix = ".json" if "json" in delivery.media_type else ".edxml"
        path = out / f"{delivery.message_id}{suffix}"
        try:
            write_atomically(path, delivery.payload, delivery.delivery_id)
        except OSError as exc:
            raise TransientError(f"cannot write {path.name} into {out}: "
                                 f"{exc.strerror or exc}") from exc
        return DeliveryResult(f"written {path.name}")

    # -- in -------------------------------------------------------------------------------
    def _in_dir(self, system_id: str, receive: Receive) -> Path:
        in_dir = receive.options.get("in_dir")
        if not in_dir:
            raise AdapterMisconfigured(f"system {system_id}: receive.options.in_dir is not set")
        return Path(in_dir)

    def poll(self, system_id: str, receive: Receive) -> list[Inbound]:
        """The settled package files, oldest first. Raises TransientError when the folder
        cannot be read now."""
        folder = self._in_dir(system_id, receive)
        min_age = float(receive.options.get("min_age_s", "2"))
        now = time.time()
        found: list[tuple[float, str]] = []
        try:
            for entry in os.scandir(folder):
                if (entry.name.startswith(".") or not entry.name.endswith(SUFFIXES)
                        or not entry.is_file()):
                    continue
                mtime = entry.stat().st_mtime
                if now - mtime >= min_age:
                    found.append((mtime, entry.name))
        except OSError as exc:
            raise TransientError(f"cannot read {folder}: {exc.strerror or exc}") from exc
        return [Inbound(ref=name) for _, name in sorted(found)]

    def fetch(self, system_id: str, receive: Receive, item: Inbound) -> Fetched:
        """The file's bytes. Raises TransientError when it cannot be read now."""
        path = self._in_dir(system_id, receive) / item.ref
        try:
            payload = path.read_bytes()
        except OSError as exc:
            raise TransientError(f"cannot read {item.ref}: {exc.strerror or exc}") from exc
        suffix = path.suffix
        media_type = "application/json" if suffix == ".json" else "application/xml"
        return Fetched(item.ref, kind_of(payload, suffix), payload, media_type)

    def acknowledge(self, system_id: str, receive: Receive, item: Inbound, result: str,
                    reason: str = "") -> None:
        """Move the file to `done/` or `failed/` (with `<name>.reason.txt`). Raises
        TransientError when it cannot be moved now."""
        folder = self._in_dir(system_id, receive)
        target = folder / (DONE if result == "done" else FAILED)
        try:
            target.mkdir(exist_ok=True)
            if result != "done":
                write_atomically(target / f"{item.ref}.reason.txt",
                                 (reason + "\n").encode("utf-8"), "hub")
            try:
                os.replace(folder / item.ref, target / item.ref)
            except FileNotFoundError:
                if not (target / item.ref).exists():
                    raise
                # moved already, by a round that stopped after moving it
        except OSError as exc:
            raise TransientError(f"cannot move {item.ref} to {target.name}/: "
                                 f"{exc.strerror or exc}") from exc

    def close(self) -> None:
        pass
