"""The router: which organisations and systems a message goes to, decided at submission."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import FieldError, UnknownRecipient, ValidationFailed
from core.model import Envelope, Kind
from core.settings import Settings
from routing.directory import Directory, System, is_standard_organ_id
from schemas.problems import CodedFieldError


@dataclass(frozen=True)
class Route:
    """One recipient organisation and the system that receives for it."""

    recipient: str
    system: System


def check_identifiers(envelope: Envelope, directory: Directory, settings: Settings) -> None:
    """Apply the OrganId policy to sender and recipients.

    An id of another form than QĐ 20's was already recorded as a deviation by the codec
    (and refused there under the strict profile); here it is accepted only when the
    directory knows it and the policy is `directory`.

    Raises ValidationFailed (code invalid_organ_id) for an id of a non-standard form that
    the policy does not accept.
    """
    policy = settings.validation.organ_id_policy
    errors: list[FieldError] = []
    for path, code in _addressed(envelope):
        if is_standard_organ_id(code):
            continue
        if policy == "directory" and directory.knows(code):
            continue
        unknown = "; the directory does not know it" if policy == "directory" else ""
        unknown_vi = "; danh bạ không có mã này" if policy == "directory" else ""
        errors.append(CodedFieldError(
            path,
            f"expected an organisation id of the form LLL.KK.JJ.Xnn (QĐ 20/2020), found "
            f"{code!r}{unknown}",
            f"cần mã định danh dạng LLL.KK.JJ.Xnn (QĐ 20/2020), nhận được {code!r}{unknown_vi}",
            None, "organ_id_nonstandard",
        ))
    if errors:
        raise ValidationFailed(
            "organisation codes are not in the QCVN 102 form",
            code="invalid_organ_id",
            errors=errors,
            detail_vi="Mã định danh cơ quan không đúng định dạng",
        )


def _addressed(envelope: Envelope) -> list[tuple[str, str]]:
    """The sender and each distinct recipient, with the path of its first mention."""
    out = [("/from/organId", envelope.sender)]
    if envelope.kind is Kind.DOCUMENT:
        listed = [t.get("organId") for t in envelope.header.get("to", [])]
        for code in envelope.recipients:  # a repeated recipient is routed once
            i = listed.index(code) if code in listed else envelope.recipients.index(code)
            out.append((f"/to/{i}/organId", code))
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
