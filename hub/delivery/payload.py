"""The payload a receiver gets: the stored bytes, or the same package in the other form."""

from __future__ import annotations

from core.errors import DeliveryRejected, HubError
from core.model import Form


def render(raw: bytes, source: Form, target: Form) -> bytes:
    """The package in `target` form; the exact stored bytes when no conversion is needed.

    Raises DeliveryRejected when the package cannot be expressed in the target form.
    """
    if source is target:
        return raw
    from schemas.mapping import convert

    try:
        return convert(raw, source, target)
    except HubError as exc:
        raise DeliveryRejected(f"cannot convert {source.value} to {target.value}: {exc}") from exc
