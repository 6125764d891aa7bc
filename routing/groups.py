"""Recipient groups: one `To` entry that names many units ("@all", "@communes.21").

A group is addressed as a recipient OrganId of the form `@name` (schemas/deviations.py,
GROUP_ADDRESS) and expanded by the hub at submission, from the directory's data:

- built in: `@all` (every province, department, district and commune unit), `@departments`,
  `@districts`, `@communes`: units of those levels that are not retired and have a
  receiving system;
- named, in the directory file's `groups:` list: listed `members`, or every unit of a
  level under a parent (`select`), less any `exclude`.

An expansion never holds the sender's own organisation, and serves each unit once; listed
members without a receiving system are reported as unreachable, never addressed.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.deviations import GROUP_ADDRESS
from schemas.deviations import is_group_address as is_group_address

if TYPE_CHECKING:
    from routing.directory import Directory, Organization

UnitLevel = Literal["province", "department", "district", "commune", "external"]

# code: (English name, Vietnamese name, the levels it takes)
BUILTIN: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "@all": ("the whole province", "toàn tỉnh",
             ("province", "department", "district", "commune")),
    "@departments": ("every department", "tất cả các sở, ban, ngành", ("department",)),
    "@districts": ("every district", "tất cả các huyện", ("district",)),
    "@communes": ("every commune", "tất cả các xã", ("commune",)),
}


class Select(BaseModel):
    """Every unit of `level` under `parent` (at any depth), or in the whole directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: UnitLevel
    parent: str | None = None


class GroupSpec(BaseModel):
    """A named group, as the directory file declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=GROUP_ADDRESS.pattern + "$")
    name: str = Field(min_length=1, max_length=200)
    members: tuple[str, ...] = ()
    select: Select | None = None
    exclude: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_way(self) -> GroupSpec:
        if bool(self.members) == (self.select is not None):
            raise ValueError(f"group {self.code} needs either members or select, not both "
                             "and not neither")
        return self


@dataclass(frozen=True)
class Expansion:
    """What a group stood for in one submission: the units it reached, in directory order,
    and listed members that no system receives for (not addressed)."""

    code: str
    name: str
    members: tuple[str, ...]
    unreachable: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "name": self.name,
                               "members": list(self.members)}
        if self.unreachable:
            out["unreachable"] = list(self.unreachable)
        return out


def check_groups(specs: list[GroupSpec], directory: Directory) -> list[str]:
    """What is wrong with the named groups, one sentence each naming the group (empty: all
    good): a duplicate code, a code of a built-in group, an unknown member, excluded unit or
    parent."""
    problems: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.code in BUILTIN:
            problems.append(f"group {spec.code} has the code of a built-in group "
                            f"({', '.join(BUILTIN)})")
        if spec.code in seen:
            problems.append(f"group {spec.code} is listed twice")
        seen.add(spec.code)
        for what, codes in (("member", spec.members), ("excluded unit", spec.exclude)):
            for code in codes:
                if not directory.knows(code):
                    problems.append(f"group {spec.code}: {what} {code} is not in the directory")
        if spec.select is not None and spec.select.parent is not None \
                and not directory.knows(spec.select.parent):
            problems.append(f"group {spec.code}: parent {spec.select.parent} is not in the "
                            "directory")
    return problems


def _retired(directory: Directory, org: Organization) -> bool:
    return directory.canonical(org.code) != org.code


def _under(directory: Directory, org: Organization, parent: str) -> bool:
    """Whether `parent` is above `org` in the directory's hierarchy (at any depth)."""
    seen: set[str] = set()
    code = org.parent
    while code and code not in seen:
        seen.add(code)
        canonical = directory.canonical(code) or code
        if canonical == parent:
            return True
        above = directory.organization(canonical)
        code = above.parent if above is not None else None
    return False


# a directory is an immutable snapshot: each group's units are worked out once per snapshot
_memo: weakref.WeakKeyDictionary[Directory, dict[str, tuple[str, str, tuple[str, ...]] | None]] \
    = weakref.WeakKeyDictionary()
_memo_lock = threading.Lock()


def members(directory: Directory, code: str) -> tuple[str, str, tuple[str, ...]] | None:
    """A group's name (English, Vietnamese) and its units (current codes, directory order,
    not retired); None for a code that names no group. Built-in groups hold only units
    with a receiving system."""
    with _memo_lock:
        known = _memo.setdefault(directory, {})
        if code in known:
            return known[code]
    found = _members(directory, code)
    with _memo_lock:
        known[code] = found
    return found


def _members(directory: Directory, code: str) -> tuple[str, str, tuple[str, ...]] | None:
    builtin = BUILTIN.get(code)
    if builtin is not None:
        name, name_vi, levels = builtin
        units = [o.code for o in directory.organizations()
                 if o.level.value in levels and not _retired(directory, o)
                 and directory.receiver_for(o.code) is not None]
        return name, name_vi, tuple(units)
    spec = directory.group(code)
    if spec is None:
        return None
    excluded = {directory.canonical(c) for c in spec.exclude}
    if spec.select is not None:
        parent = directory.canonical(spec.select.parent) if spec.select.parent else None
        listed = [o.code for o in directory.organizations()
                  if o.level.value == spec.select.level and not _retired(directory, o)
                  and (parent is None or _under(directory, o, parent))]
    else:
        listed = [c for c in (directory.canonical(m) for m in spec.members) if c is not None]
    return spec.name, spec.name, tuple(c for c in dict.fromkeys(listed) if c not in excluded)


def expand(directory: Directory, code: str, sender: str) -> Expansion | None:
    """The units a group addresses for `sender` (whose own organisation is left out);
    None for a code that names no group."""
    found = members(directory, code)
    if found is None:
        return None
    name, _, units = found
    me = directory.canonical(sender) or sender
    receiving = [(u, directory.receiver_for(u) is not None) for u in units if u != me]
    reachable = tuple(u for u, ok in receiving if ok)
    unreachable = tuple(u for u, ok in receiving if not ok)
    return Expansion(code, name, reachable, unreachable)
