"""Body limits, enforced while reading so an oversize body is never held whole."""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.errors import MalformedInput, PayloadTooLarge


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is larger than {limit} bytes",
        code="payload_too_large",
        detail_vi=f"Nội dung lớn hơn {limit} byte",
    )


def check_declared_length(content_length: str | None, limit: int) -> None:
    """Refuse early on Content-Length. Raises PayloadTooLarge or MalformedInput."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError as exc:
        raise MalformedInput("Content-Length is not a number", code="bad_content_length") from exc
    if declared > limit:
        raise too_large(limit)


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read a streamed body, stopping as soon as it passes `limit`.

    Raises PayloadTooLarge.
    """
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    return bytes(buf)
