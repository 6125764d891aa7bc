"""The router: which organisations and systems a message goes to, decided at submission."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import FieldError, UnknownRecipient, ValidationFailed
from core.model import Envelope, Kind
from core.settings import Settings
from routing.directory import Directory, System, is_standard_organ_id


@dataclass(frozen=True)
class Route:
    """One recipient organisation and the system that receives for it."""

    recipient: str
    system: System


def check_identifiers(envelope: Envelope, directory: Directory, settings: Settings) -> None:
    """Apply the OrganId policy to sender and recipients.

    Raises ValidationFailed (code invalid_organ_id) for an id of a non-standard form that
    the policy does not accept.
    """
    policy = settings.validation.organ_id_policy
    errors = []
    for path, code in _addressed(envelope):
        if is_standard_organ_id(code):
            continue
        if policy == "directory" and directory.knows(code):
            continue
        errors.append(
            FieldError(
                path,
                f"{code!r} is not an organisation code of the form LLL.KK.JJ.Xnn",
                f"{code!r} không phải mã định danh dạng LLL.KK.JJ.Xnn",
            )
        )
    if errors:
        raise ValidationFailed(
            "organisation codes are not in the QCVN 102 form",
            code="invalid_organ_id",
            errors=errors,
            detail_vi="Mã định danh cơ quan không đúng định dạng",
        )


def _addressed(envelope: Envelope) -> list[tuple[str, str]]:
    out = [("/from/organId", envelope.sender)]
    if envelope.kind is Kind.DOCUMENT:
        out.extend((f"/to/{i}/organId", code) for i, code in enumerate(envelope.recipients))
    else:
        out.extend(("/responseFor/organId", code) for code in envelope.recipients)
    return out


def plan(envelope: Envelope, directory: Directory) -> list[Route]:
    """One route per distinct recipient, after aliases and successions.

    Raises UnknownRecipient naming every recipient the directory does not know or that no
    system receives for.
    """
    routes: dict[str, Route] = {}
    errors = []
    bad: list[str] = []
    for path, code in _addressed(envelope)[1:]:
        canonical = directory.canonical(code)
        system = directory.receiver_for(code) if canonical else None
        if canonical is None or system is None:
            bad.append(code)
        if canonical is None:
            errors.append(FieldError(path, f"{code} is not in the directory",
                                     f"{code} không có trong danh bạ"))
        elif system is None:
            errors.append(FieldError(path, f"no connected system receives for {code}",
                                     f"không có hệ thống nào nhận văn bản cho {code}"))
        else:
            routes.setdefault(canonical, Route(canonical, system))
    if errors:
        raise UnknownRecipient(
            f"{len(errors)} recipient(s) cannot be routed: {', '.join(bad)}",
            errors=errors,
            detail_vi=f"{len(errors)} nơi nhận không xác định",
        )
    return list(routes.values())
