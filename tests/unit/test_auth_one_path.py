"""One authentication function for every channel: the same rules over REST and SOAP."""

from __future__ import annotations

import base64

import pytest

from core.errors import AuthenticationFailed
from routing.directory import Directory
from security.auth import Credentials, UsernameToken, authenticate
from tests.support import KEYS, hue_directory


@pytest.fixture(scope="module")
def directory() -> Directory:
    return hue_directory("http://127.0.0.1:9/receive")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_every_form_of_the_same_credentials_names_the_same_system(directory: Directory) -> None:
    by_bearer = authenticate(directory, Credentials("rest", f"Bearer {KEYS['district']}"))
    by_basic_rest = authenticate(directory, Credentials("rest", basic("district",
                                                                      KEYS["district"])))
    by_token = authenticate(directory, Credentials(
        "soap", token=UsernameToken("district", KEYS["district"])))
    by_basic_soap = authenticate(directory, Credentials("soap", basic("district",
                                                                      KEYS["district"])))
    assert {s.id for s in (by_bearer, by_basic_rest, by_token, by_basic_soap)} == {"district"}


def test_a_token_and_a_header_naming_different_systems_are_refused(directory: Directory) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(directory, Credentials(
            "soap", f"Bearer {KEYS['province']}", UsernameToken("district", KEYS["district"])))
    assert caught.value.code == "conflicting_credentials"
    assert caught.value.claimed == "district"


def test_a_token_and_a_header_naming_the_same_system_are_accepted(directory: Directory) -> None:
    system = authenticate(directory, Credentials(
        "soap", f"Bearer {KEYS['district']}", UsernameToken("district", KEYS["district"])))
    assert system.id == "district"


@pytest.mark.parametrize(("channel", "hint"), [("rest", "Bearer"), ("soap", "UsernameToken")])
def test_no_credentials_tells_the_caller_what_its_channel_expects(
    directory: Directory, channel: str, hint: str
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(directory, Credentials(channel))  # type: ignore[arg-type]
    assert caught.value.code == "missing_credentials"
    assert hint in caught.value.detail and caught.value.detail_vi


@pytest.mark.parametrize("credentials", [
    Credentials("soap", token=UsernameToken("district", KEYS["province"])),
    Credentials("soap", token=UsernameToken("province", "no-such-key")),
    Credentials("rest", basic("district", KEYS["province"])),
])
def test_a_wrong_username_and_a_wrong_key_are_not_told_apart(
    directory: Directory, credentials: Credentials
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(directory, credentials)
    assert caught.value.code == "invalid_credentials"
    assert caught.value.detail == "unknown username or password"
    assert caught.value.claimed == credentials.claimed and caught.value.claimed


@pytest.mark.parametrize(("authorization", "code"), [
    ("Bearer no-such-key", "invalid_credentials"),
    ("Bearer ", "malformed_credentials"),
    ("Token abc", "malformed_credentials"),
    ("Basic !!!", "malformed_credentials"),
    ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed_credentials"),
])
def test_bad_authorization_headers_have_stable_codes(
    directory: Directory, authorization: str, code: str
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(directory, Credentials("rest", authorization))
    assert caught.value.code == code
    assert caught.value.detail_vi
