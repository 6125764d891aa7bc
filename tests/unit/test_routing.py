"""The directory and the router: aliases, successions, unknown recipients, key hashes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.errors import UnknownRecipient, ValidationFailed
from core.model import Envelope, Form, Kind
from core.settings import Settings
from routing.directory import Directory, DirectoryError, hash_key
from routing.router import check_identifiers, plan


def directory(**extra_system: object) -> Directory:
    return Directory.from_dict({
        "organizations": [
            {"code": "000.00.00.H57", "name": "Tỉnh", "level": "province"},
            {"code": "000.00.21.H57", "name": "Huyện", "level": "district",
             "parent": "000.00.00.H57", "aliases": ["000.00.91.H57", "vxp.saas.03"]},
            {"code": "000.00.29.H57", "name": "Huyện cũ", "level": "district",
             "successor": "000.00.21.H57"},
            {"code": "000.00.30.H57", "name": "Không có hệ thống", "level": "district"},
        ],
        "systems": [
            {"id": "tinh", "organizations": ["000.00.00.H57"],
             "api_key_hashes": [hash_key("k1")], "receive": {"mode": "pull"}},
            {"id": "huyen", "organizations": ["000.00.21.H57"], "receive": {"mode": "pull"},
             **extra_system},
        ],
    })


def envelope(*to: str, sender: str = "000.00.00.H57") -> Envelope:
    return Envelope(kind=Kind.DOCUMENT, form=Form.JSON, sender=sender, recipients=tuple(to))


def test_alias_and_successor_route_to_the_current_unit() -> None:
    routes = plan(envelope("000.00.91.H57", "000.00.29.H57", "000.00.21.H57"), directory())
    assert [(r.recipient, r.system.id) for r in routes] == [("000.00.21.H57", "huyen")]


def test_every_unroutable_recipient_is_named() -> None:
    with pytest.raises(UnknownRecipient) as info:
        plan(envelope("000.00.21.H57", "000.00.77.H57", "000.00.30.H57"), directory())
    assert [e.path for e in info.value.errors] == ["/to/1/organId", "/to/2/organId"]
    assert "000.00.77.H57" in info.value.detail and "000.00.30.H57" in info.value.detail


def test_non_standard_id_needs_the_directory_or_is_refused_when_strict() -> None:
    d = directory()
    check_identifiers(envelope("vxp.saas.03"), d, Settings())  # known alias: accepted
    with pytest.raises(ValidationFailed) as info:
        check_identifiers(envelope("null"), d, Settings())
    assert info.value.code == "invalid_organ_id"
    assert [e.path for e in info.value.errors] == ["/to/0/organId"]
    strict = Settings(validation={"organ_id_policy": "strict"})
    with pytest.raises(ValidationFailed) as info:
        check_identifiers(envelope("vxp.saas.03"), d, strict)
    assert info.value.code == "invalid_organ_id"
    assert [e.path for e in info.value.errors] == ["/to/0/organId"]


def test_keys_are_found_by_hash_only() -> None:
    d = directory()
    found = d.system_for_key("k1")
    assert found is not None and found.id == "tinh"
    assert d.system_for_key("k2") is None


def test_plaintext_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="never in clear") as info:
        directory(api_key_hashes=["my-secret-key"])
    [error] = info.value.errors()
    assert error["loc"] == ("systems", 1, "api_key_hashes")


def test_two_systems_receiving_for_one_unit_are_refused() -> None:
    with pytest.raises(DirectoryError, match="served by both"):
        Directory.from_dict({
            "organizations": [{"code": "000.00.00.H57", "name": "x", "level": "province"}],
            "systems": [{"id": "a", "organizations": ["000.00.00.H57"]},
                        {"id": "b", "organizations": ["000.00.00.H57"]}],
        })


def test_push_without_address_is_refused() -> None:
    with pytest.raises(DirectoryError, match="no url"):
        directory(receive={"mode": "push"})
