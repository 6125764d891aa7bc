"""Field errors that carry their own stable code, and the ValidationFailed built from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import FieldError, ValidationFailed
from core.model import Kind

GENERIC_CODE = "validation_failed"
KIND_VI = {Kind.DOCUMENT: "văn bản", Kind.STATUS: "trạng thái"}


@dataclass(frozen=True)
class CodedFieldError(FieldError):
    """A FieldError with a machine-readable code (`element_missing`, `date_invalid`, ...)."""

    code: str = GENERIC_CODE

    def as_dict(self) -> dict[str, object]:
        out = super().as_dict()
        out["code"] = self.code
        return out


def counted(n: int, noun: str) -> str:
    """`1 problem`, `2 problems`: a count said as people say it."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def coded(error: FieldError, code: str) -> CodedFieldError:
    """`error` with `code`, keeping a code it already has."""
    if isinstance(error, CodedFieldError):
        return error
    return CodedFieldError(error.path, error.message, error.message_vi, error.line, code)


def code_of(error: FieldError) -> str:
    return error.code if isinstance(error, CodedFieldError) else GENERIC_CODE


def validation_failed(errors: Iterable[FieldError], what: str = "package") -> ValidationFailed:
    """One ValidationFailed for every error; its code is theirs when they all share one."""
    found = sorted(dict.fromkeys(errors), key=lambda e: (e.line or 0, e.path))
    codes = {code_of(e) for e in found}
    code = codes.pop() if len(codes) == 1 else GENERIC_CODE
    return ValidationFailed(
        f"{counted(len(found), 'problem')} in the {what}: "
        + "; ".join(f"{e.path}: {e.message}" for e in found[:3])
        + ("; ..." if len(found) > 3 else ""),
        code=code,
        errors=found,
        detail_vi=f"Gói tin có {len(found)} lỗi: "
        + "; ".join(f"{e.path}: {e.message_vi or e.message}" for e in found[:3])
        + ("; ..." if len(found) > 3 else ""),
    )


def wrong_package_kind(found: Kind, kind: Kind, path: str,
                       line: int | None = None) -> ValidationFailed:
    """A package of the other kind than the endpoint takes, in either form."""
    return ValidationFailed(
        f"this is a {found.value} package; this endpoint takes {kind.value} packages",
        code="wrong_package_kind",
        errors=[CodedFieldError(
            path,
            f"expected a {kind.value} package, found a {found.value} package",
            f"cần gói tin {KIND_VI[kind]}, nhận được gói tin {KIND_VI[found]}",
            line, "wrong_package_kind",
        )],
        detail_vi=f"Đây là gói tin {KIND_VI[found]}; điểm nhận này chỉ nhận gói tin "
        f"{KIND_VI[kind]}",
    )
