"""Recipient groups: read as group addresses by both codecs under both profiles, validated
with the directory, expanded from the directory's data, served once, refused when unknown
or empty."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.errors import UnknownRecipient, ValidationFailed
from core.model import Envelope, Form, Kind
from core.settings import DEMO_DIRECTORY, Settings
from routing.directory import Directory, DirectoryError
from routing.groups import expand
from routing.router import check_identifiers, explain, plan
from schemas.codec import CodecRegistry
from schemas.mapping import json_to_edxml
from tests.support import document

PROVINCE, OFFICE, HOME, FINANCE = ("000.00.00.H57", "000.00.01.H57", "000.00.02.H57",
                                   "000.00.03.H57")


def demo() -> Directory:
    return Directory.from_file(DEMO_DIRECTORY)


def envelope(*to: str, sender: str = PROVINCE) -> Envelope:
    return Envelope(kind=Kind.DOCUMENT, form=Form.JSON, sender=sender, recipients=tuple(to))


def small(**extra: Any) -> dict[str, Any]:
    """A province, a district that pulls, two communes (one retired into the other), a
    department without a system."""
    return {
        "organizations": [
            {"code": PROVINCE, "name": "Tỉnh", "level": "province"},
            {"code": "000.00.21.H57", "name": "Huyện", "level": "district", "parent": PROVINCE},
            {"code": "000.01.21.H57", "name": "Xã A", "level": "commune",
             "parent": "000.00.21.H57"},
            {"code": "000.02.21.H57", "name": "Xã B (đã nhập)", "level": "commune",
             "parent": "000.00.21.H57", "successor": "000.01.21.H57"},
            {"code": HOME, "name": "Sở Nội vụ", "level": "department", "parent": PROVINCE},
        ],
        "systems": [
            {"id": "tinh", "organizations": [PROVINCE]},
            {"id": "huyen", "organizations": ["000.00.21.H57", "000.01.21.H57"]},
        ],
        **extra,
    }


# -- the codecs ------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["interop", "strict"])
@pytest.mark.parametrize("form", [Form.JSON, Form.EDXML])
def test_a_group_address_is_no_deviation_in_either_form_or_profile(form: Form,
                                                                   profile: str) -> None:
    pkg = document(to=("@all", "@communes.21", HOME))
    raw = json.dumps(pkg).encode() if form is Form.JSON else json_to_edxml(pkg)
    codec = CodecRegistry(Settings()).for_form(form)
    env = codec.read(raw, Kind.DOCUMENT, profile)  # type: ignore[arg-type]
    assert env.recipients == ("@all", "@communes.21", HOME)
    assert env.warnings == ()


@pytest.mark.parametrize("form", [Form.JSON, Form.EDXML])
def test_a_group_address_only_in_a_recipient(form: Form) -> None:
    """`@all` as the sender is still a non-standard id (a warning under interop)."""
    pkg = document(sender="@all", to=(HOME,))
    raw = json.dumps(pkg).encode() if form is Form.JSON else json_to_edxml(pkg)
    env = CodecRegistry(Settings()).for_form(form).read(raw, Kind.DOCUMENT, "interop")
    assert [w.as_dict()["code"] for w in env.warnings] == ["organ_id_nonstandard"]
    with pytest.raises(ValidationFailed):
        CodecRegistry(Settings()).for_form(form).read(raw, Kind.DOCUMENT, "strict")


@pytest.mark.parametrize("code", ["@ALL", "@", "@all!", "@all_of_them"])
def test_what_is_not_a_group_address_stays_a_nonstandard_id(code: str) -> None:
    pkg = document(to=(code,))
    env = CodecRegistry(Settings()).for_form(Form.JSON).read(
        json.dumps(pkg).encode(), Kind.DOCUMENT, "interop")
    assert [w.as_dict()["code"] for w in env.warnings] == ["organ_id_nonstandard"]


def test_identifier_policy_lets_groups_through_under_the_strict_policy() -> None:
    strict = Settings(validation={"organ_id_policy": "strict"})
    check_identifiers(envelope("@all", "@communes.21"), demo(), strict)
    with pytest.raises(ValidationFailed):
        check_identifiers(envelope("@all", sender="@all"), demo(), strict)


# -- the directory's groups ---------------------------------------------------------------
def test_the_demo_directory_has_a_communes_group_per_district_and_named_groups() -> None:
    d = demo()
    districts = [o.code for o in d.organizations() if o.level.value == "district"]
    codes = {g.code for g in d.groups()}
    assert {f"@communes.{c[7:9]}" for c in districts} <= codes
    assert "@khoi.tonghop" in codes


def test_all_is_every_unit_with_a_receiving_system_but_the_sender() -> None:
    d = demo()
    group = expand(d, "@all", PROVINCE)
    assert group is not None
    receiving = {o.code for o in d.organizations() if d.receiver_for(o.code) is not None}
    assert set(group.members) == receiving - {PROVINCE}
    assert len(group.members) == 9
    # from a department, the province is in and the department is out
    other = expand(d, "@all", HOME)
    assert other is not None and PROVINCE in other.members and HOME not in other.members


def test_builtin_levels() -> None:
    d = demo()
    levels = {"@departments": "department", "@districts": "district", "@communes": "commune"}
    for code, level in levels.items():
        group = expand(d, code, PROVINCE)
        assert group is not None and group.members
        assert all(getattr(d.organization(m), "level", None) == level for m in group.members)


def test_select_follows_the_directory_data_not_code_patterns() -> None:
    """A commune whose code says district 21 but whose parent is district 22 is in 22's
    group; a retired commune is in none."""
    data = small(groups=[{"code": "@communes.21", "name": "Xã của huyện",
                          "select": {"level": "commune", "parent": "000.00.21.H57"}}])
    data["organizations"].append({"code": "000.00.22.H57", "name": "Huyện 2",
                                  "level": "district", "parent": PROVINCE})
    data["organizations"].append({"code": "000.09.21.H57", "name": "Xã lạc",
                                  "level": "commune", "parent": "000.00.22.H57"})
    data["systems"].append({"id": "xa-lac", "organizations": ["000.09.21.H57"]})
    group = expand(Directory.from_dict(data), "@communes.21", PROVINCE)
    assert group is not None and group.members == ("000.01.21.H57",)


def test_named_members_follow_successions_exclude_and_report_the_unreachable() -> None:
    data = small(groups=[{"code": "@mix", "name": "Hỗn hợp",
                          "members": ["000.02.21.H57", "000.01.21.H57", HOME, PROVINCE,
                                      "000.00.21.H57"],
                          "exclude": ["000.00.21.H57"]}])
    group = expand(Directory.from_dict(data), "@mix", PROVINCE)
    assert group is not None
    assert group.members == ("000.01.21.H57",)  # retired B is A; the sender is left out
    assert group.unreachable == (HOME,)  # no system receives for it
    assert group.as_dict() == {"code": "@mix", "name": "Hỗn hợp",
                               "members": ["000.01.21.H57"], "unreachable": [HOME]}


@pytest.mark.parametrize(("groups", "says"), [
    ([{"code": "@x", "name": "X", "members": ["000.00.77.H57"]}],
     "group @x: member 000.00.77.H57 is not in the directory"),
    ([{"code": "@x", "name": "X", "members": [HOME], "exclude": ["000.00.77.H57"]}],
     "group @x: excluded unit 000.00.77.H57 is not in the directory"),
    ([{"code": "@x", "name": "X", "select": {"level": "commune", "parent": "000.00.77.H57"}}],
     "group @x: parent 000.00.77.H57 is not in the directory"),
    ([{"code": "@x", "name": "X", "members": [HOME]},
      {"code": "@x", "name": "Y", "members": [HOME]}], "group @x is listed twice"),
    ([{"code": "@all", "name": "Mine", "members": [HOME]}],
     "group @all has the code of a built-in group"),
])
def test_bad_groups_stop_the_directory_naming_the_group(groups: list[dict[str, Any]],
                                                        says: str) -> None:
    with pytest.raises(DirectoryError) as info:
        Directory.from_dict(small(groups=groups))
    assert says in info.value.detail


def test_a_group_is_members_or_select_and_its_code_fits_an_organ_id() -> None:
    from pydantic import ValidationError

    for bad in ({"code": "@x", "name": "X"},
                {"code": "@x", "name": "X", "members": [HOME],
                 "select": {"level": "commune"}},
                {"code": "@thirteen-chars", "name": "X", "members": [HOME]},
                {"code": "nogroup", "name": "X", "members": [HOME]}):
        with pytest.raises(ValidationError):
            Directory.from_dict(small(groups=[bad]))


def test_a_bad_group_in_a_file_names_the_file(tmp_path: Any) -> None:
    import yaml

    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(small(groups=[{"code": "@x", "name": "X",
                                                  "members": ["000.00.77.H57"]}])),
                    encoding="utf-8")
    with pytest.raises(DirectoryError) as info:
        Directory.from_file(path)
    assert str(path) in info.value.detail and "group @x" in info.value.detail


# -- expansion by the router --------------------------------------------------------------
def test_a_unit_named_and_in_groups_is_routed_once() -> None:
    routes = plan(envelope("@departments", HOME, "@khoi.tonghop"), demo())
    assert [r.recipient for r in routes] == [OFFICE, HOME, FINANCE]
    # a retired code named beside the group that holds its successor
    routes = plan(envelope("000.02.21.H57", "@communes"), Directory.from_dict(small()))
    assert [(r.recipient, r.system.id) for r in routes] == [("000.01.21.H57", "huyen")]


def test_an_unknown_group_is_an_unknown_recipient_at_its_path() -> None:
    with pytest.raises(UnknownRecipient) as info:
        plan(envelope(HOME, "@nowhere"), demo())
    assert info.value.code == "unknown_recipient"
    [error] = info.value.errors
    assert error.path == "/to/1/organId"
    assert "@nowhere" in error.message and error.message_vi


def test_a_group_that_reaches_nobody_is_refused_with_its_own_code() -> None:
    with pytest.raises(UnknownRecipient) as info:
        plan(envelope(HOME, "@communes.22"), demo())
    assert info.value.code == "recipient_group_empty"
    [error] = info.value.errors
    assert error.path == "/to/1/organId"
    assert "000.01.22.H57" in error.message  # the member no system receives for
    assert error.message_vi and info.value.detail_vi


def test_the_decision_lists_each_group_with_the_units_it_reached() -> None:
    decision = explain(envelope("@communes.21", "@districts"), demo())
    assert decision.refusal is None
    assert [(g.code, g.members) for g in decision.groups] == [
        ("@communes.21", ("000.01.21.H57", "000.02.21.H57")),
        ("@districts", ("000.00.21.H57", "000.00.23.H57", "000.00.26.H57"))]
    assert len(decision.routes) == 5


def test_a_status_cannot_address_a_group() -> None:
    status = Envelope(kind=Kind.STATUS, form=Form.JSON, sender=HOME, recipients=("@all",))
    decision = explain(status, demo())
    assert isinstance(decision.refusal, UnknownRecipient)
