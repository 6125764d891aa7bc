"""The codec contract and the registry that picks a codec by media type."""

from __future__ import annotations

from typing import Protocol

from core.errors import UnsupportedMediaType
from core.model import Envelope, Form, Kind
from core.settings import Profile, Settings


class Codec(Protocol):
    """Parses and validates one form of package, under a validation profile.

    `read` checks under `profile` (None: the settings' `validation.profile`) and puts the
    deviations the profile lets through in the Envelope's warnings. It raises
    MalformedInput (not the declared syntax), HostileInput (DTDs, entities, absurd depth),
    PayloadTooLarge (an attachment over its limit) or ValidationFailed (well-formed but
    invalid, or a deviation the profile refuses, with every offending path).
    """

    form: Form

    def read(self, raw: bytes, kind: Kind, profile: Profile | None = None) -> Envelope: ...


def form_of(media_type: str) -> Form:
    """The form a media type announces.

    Raises UnsupportedMediaType for anything but JSON and XML.
    """
    base = media_type.split(";", 1)[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return Form.JSON
    if base in ("application/xml", "text/xml") or base.endswith("+xml"):
        return Form.EDXML
    raise UnsupportedMediaType(
        f"content type {base or '(none)'!r} is not accepted; "
        "send application/json or application/xml",
        detail_vi="Kiểu nội dung không được hỗ trợ; hãy gửi application/json hoặc application/xml",
    )


class CodecRegistry:
    """One codec per form, built once at start-up (schemas compile once)."""

    def __init__(self, settings: Settings) -> None:
        from schemas.edxml_codec import EdxmlCodec
        from schemas.jsonform import JsonCodec

        self._codecs: dict[Form, Codec] = {
            Form.JSON: JsonCodec(settings),
            Form.EDXML: EdxmlCodec(settings),
        }

    def for_form(self, form: Form) -> Codec:
        codec = self._codecs.get(form)
        if codec is None:
            raise UnsupportedMediaType(f"packages in the {form.value} form are not accepted yet")
        return codec

    def for_media_type(self, media_type: str) -> Codec:
        return self.for_form(form_of(media_type))
