"""Parse and validate: the codec for the declared media type turns bytes into an Envelope,
under the sending system's validation profile."""

from __future__ import annotations

from core.errors import MalformedInput
from core.settings import Profile
from hub.ingest.submission import Submission
from schemas.codec import CodecRegistry


def parse(sub: Submission, codecs: CodecRegistry, profile: Profile) -> None:
    """Check the package under `profile`; the deviations it lets through become the
    Envelope's warnings.

    Raises UnsupportedMediaType, MalformedInput, HostileInput, ValidationFailed.
    """
    if not sub.raw:
        raise MalformedInput("the body is empty", code="empty_body", detail_vi="Nội dung rỗng")
    sub.envelope = codecs.for_media_type(sub.media_type).read(sub.raw, sub.kind, profile)
