"""One authentication function for every channel: the same rules over REST and SOAP."""

from __future__ import annotations

import base64

import pytest

from core.errors import AuthenticationFailed
from routing.directory import Directory
from security.auth import Caller, Credentials, UsernameToken, authenticate, may_be_person
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


# -- people: bearer tokens on REST only ----------------------------------------------------
PERSON_TOKEN = "ltp_" + "p" * 43


class People:
    """A stand-in for security.people.PersonTokens that records what it was asked."""

    def __init__(self, refuse: str | None = None) -> None:
        self.asked: list[str] = []
        self.refuse = refuse

    def __call__(self, token: str) -> Caller:
        self.asked.append(token)
        if token != PERSON_TOKEN:
            raise AuthenticationFailed("unknown", code="invalid_credentials")
        if self.refuse:
            exc = AuthenticationFailed("refused", code=self.refuse)
            exc.claimed = "person:lan"
            raise exc
        return Caller.of_person("lan", "auditor")


def test_a_persons_token_on_rest_names_the_person(directory: Directory) -> None:
    caller = authenticate(directory, Credentials("rest", f"Bearer {PERSON_TOKEN}"), People())
    assert (caller.kind, caller.id, caller.roles, caller.actor) == (
        "person", "lan", frozenset({"auditor"}), "person:lan")
    assert caller.system is None and caller.organizations == () and caller.sees_everything


def test_a_system_key_names_the_system_and_its_organisations(directory: Directory) -> None:
    people = People()
    caller = authenticate(directory, Credentials("rest", f"Bearer {KEYS['district']}"), people)
    assert (caller.kind, caller.actor, caller.roles) == ("system", "district",
                                                          frozenset({"system"}))
    assert caller.system is not None and caller.organizations == caller.system.organizations
    assert not caller.sees_everything
    assert people.asked == []  # a system key never costs a read of people's accounts


def test_only_tokens_with_the_peoples_prefix_are_looked_up(directory: Directory) -> None:
    people = People()
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(directory, Credentials("rest", "Bearer not-a-person"), people)
    assert caught.value.code == "invalid_credentials" and people.asked == []
    assert may_be_person(Credentials("rest", f"Bearer {PERSON_TOKEN}"))
    assert not may_be_person(Credentials("rest", f"Bearer {KEYS['district']}"))
    assert not may_be_person(Credentials("soap", f"Bearer {PERSON_TOKEN}"))


@pytest.mark.parametrize("credentials", [
    Credentials("soap", f"Bearer {PERSON_TOKEN}"),
    Credentials("soap", token=UsernameToken("lan", PERSON_TOKEN)),
    Credentials("soap", basic("lan", PERSON_TOKEN)),
    Credentials("rest", basic("lan", PERSON_TOKEN)),  # people use Bearer, not Basic
])
def test_people_do_not_use_soap_or_basic(directory: Directory, credentials: Credentials) -> None:
    people = People()
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(directory, credentials, people)
    assert caught.value.code == "invalid_credentials"
    assert people.asked == []


@pytest.mark.parametrize("code", ["token_expired", "token_revoked"])
def test_an_expired_or_revoked_token_keeps_its_code_and_the_person_claimed(
    directory: Directory, code: str
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        authenticate(directory, Credentials("rest", f"Bearer {PERSON_TOKEN}"), People(code))
    assert (caught.value.code, caught.value.claimed) == (code, "person:lan")
