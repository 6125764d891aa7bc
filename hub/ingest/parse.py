"""Parse and validate: the codec for the declared media type turns bytes into an Envelope."""

from __future__ import annotations

from core.errors import MalformedInput
from hub.ingest.submission import Submission
from schemas.codec import CodecRegistry


def parse(sub: Submission, codecs: CodecRegistry) -> None:
    """Raises UnsupportedMediaType, MalformedInput, HostileInput, ValidationFailed."""
    if not sub.raw:
        raise MalformedInput("the body is empty", code="empty_body", detail_vi="Nội dung rỗng")
    sub.envelope = codecs.for_media_type(sub.media_type).read(sub.raw, sub.kind)
