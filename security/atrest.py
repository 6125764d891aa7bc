"""Protection at rest: stored packages sealed with AES-256-GCM under keys from the environment.

A sealed blob describes itself::

    b"LTE1" | key id (8 ASCII hex) | nonce (12 random bytes) | ciphertext | tag (16 bytes)

The key id names the key without revealing it (the first 4 bytes of a domain-separated
SHA-256 of the key). The associated data is the blob's own header followed by what the
caller binds the blob to (the store uses the message id), so a blob copied into another
row, a header rewritten to name another key, a flipped or a missing byte all fail the tag
check alike. Bytes that do not start with the magic are stored plaintext from before
protection was turned on and are returned as they are: an accepted package always starts
with `{`, `[`, `<`, white space or a byte-order mark, never with `LTE1`.

A blob that cannot be opened is an operator's problem, never the caller's: AtRestError and
its two codes sit directly under HubError (HTTP 500, SOAP Server fault), not under
PermanentError (400s blame the caller, and a delivery would be dead at once while a
restored key would make it deliverable) nor under TransientError (503 says "come back
later", which a tampered row will never justify). A delivery meeting one is retried with
backoff like any unexpected failure, so an operator who restores the key in time loses
nothing, and is a dead letter naming the code otherwise.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import HubError
from core.settings import AtRest

MAGIC = b"LTE1"
KEY_ID_CHARS = 8
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + KEY_ID_CHARS
_KEY_ID_DOMAIN = b"lienthong atrest key id\x00"
_HEX = frozenset(b"0123456789abcdef")


def key_id(key: bytes) -> str:
    """The short public name of a key: 8 hex characters of a domain-separated SHA-256."""
    return hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:KEY_ID_CHARS]


def key_id_of(blob: bytes) -> str | None:
    """The key id a stored blob names, or None for plaintext (no magic)."""
    if not blob.startswith(MAGIC):
        return None
    return blob[len(MAGIC):HEADER_BYTES].decode("ascii", errors="replace")


class AtRestError(HubError):
    """A stored package that cannot be opened: the hub's problem, not the caller's."""

    http_status = 500
    code = "atrest_unreadable"
    title = "Stored message unreadable"
    soap_fault = "Server"


class AtRestKeyUnknown(AtRestError):
    """Sealed under a key this process does not hold."""

    code = "atrest_key_unknown"

    def __init__(self, kid: str, label: str) -> None:
        super().__init__(
            f"{label} is sealed under key {kid}, which this process does not hold: give it "
            "in LIENTHONG_ATREST_OLD_KEYS (or as LIENTHONG_ATREST_KEY)",
            detail_vi=f"{label}: dữ liệu được mã hoá bằng khoá {kid} mà tiến trình này không "
                      "có; cần khai báo khoá trong LIENTHONG_ATREST_OLD_KEYS")
        self.key_id = kid


class AtRestTampered(AtRestError):
    """The tag does not match: altered, truncated, or moved from another row."""

    code = "atrest_tampered"

    def __init__(self, label: str) -> None:
        super().__init__(
            f"{label} fails its integrity check: it was altered, truncated or moved from "
            "another row; restore it from a backup",
            detail_vi=f"{label}: dữ liệu không qua được kiểm tra toàn vẹn (bị sửa, bị cắt "
                      "hoặc bị chuyển từ bản ghi khác); cần khôi phục từ bản sao lưu")


class Sealer:
    """Seals under the current key; opens what any known key sealed, and plaintext.

    Without a current key (protection off) `seal` returns the plaintext unchanged, so the
    store calls it unconditionally and older keys still open what they sealed.
    """

    def __init__(self, key: bytes | None = None, old_keys: Iterable[bytes] = ()) -> None:
        """Raises AtRestError when two different keys share a key id (no blob could say
        which of them sealed it)."""
        self._keys: dict[str, AESGCM] = {}
        seen: dict[str, bytes] = {}
        for k in ([key] if key is not None else []) + list(old_keys):
            kid = key_id(k)
            if kid in seen and seen[kid] != k:
                raise AtRestError(f"two different at-rest keys share the key id {kid}; "
                                  "generate another key")
            seen[kid] = k
            self._keys.setdefault(kid, AESGCM(k))
        self.key_id = key_id(key) if key is not None else None

    @classmethod
    def from_settings(cls, atrest: AtRest) -> Sealer:
        """Enabled: seal under the current key. Off: any keys given are for reading only."""
        if atrest.enabled:
            return cls(atrest.key, atrest.old_keys)
        return cls(None, ([atrest.key] if atrest.key else []) + list(atrest.old_keys))

    @property
    def sealing(self) -> bool:
        return self.key_id is not None

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """`plaintext` sealed under the current key and bound to `aad`; unchanged when off."""
        if self.key_id is None:
            return plaintext
        header = MAGIC + self.key_id.encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._keys[self.key_id].encrypt(nonce, plaintext, header + aad)

    def open(self, blob: bytes, aad: bytes, label: str = "the stored data") -> bytes:
        """The plaintext of `blob` bound to `aad`; plaintext (no magic) as it is.

        Raises AtRestKeyUnknown (a key id none of the keys has) or AtRestTampered (the tag
        does not match `aad` and the bytes; the blob is too short to be one).
        """
        if not blob.startswith(MAGIC):
            return blob
        if len(blob) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES:
            raise AtRestTampered(label)
        kid_bytes = blob[len(MAGIC):HEADER_BYTES]
        if not _HEX.issuperset(kid_bytes):
            raise AtRestTampered(label)
        kid = kid_bytes.decode("ascii")
        aead = self._keys.get(kid)
        if aead is None:
            raise AtRestKeyUnknown(kid, label)
        nonce = blob[HEADER_BYTES:HEADER_BYTES + NONCE_BYTES]
        try:
            return aead.decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES:],
                                blob[:HEADER_BYTES] + aad)
        except InvalidTag:
            raise AtRestTampered(label) from None
