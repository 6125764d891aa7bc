"""Time-limited links: a token names one message and recipient, is signed, and expires."""

from __future__ import annotations

import pytest

from core.errors import HubError, NotFound
from core.links import LinkSigner
from core.settings import Links

SECRET = b"s" * 32
NOW = 1_800_000_000.0


def signer(ttl_s: float = 3600.0) -> LinkSigner:
    return LinkSigner(SECRET, ttl_s, "https://lgsp.hue.gov.vn/")


def test_a_link_reads_back_what_it_names_until_it_expires() -> None:
    token = signer().mint("0b9e4c1a-11", "000.01.21.H57", now=NOW)
    claim = signer().read(token, now=NOW + 3599)
    assert (claim.message_id, claim.recipient, claim.expires) == (
        "0b9e4c1a-11", "000.01.21.H57", int(NOW + 3600))
    with pytest.raises(NotFound) as expired:
        signer().read(token, now=NOW + 3601)
    assert expired.value.code == "link_expired" and expired.value.detail_vi


def test_the_url_is_under_the_public_address() -> None:
    assert signer().url("m-1", "000.01.21.H57", now=NOW).startswith(
        "https://lgsp.hue.gov.vn/api/v1/links/m-1.000.01.21.H57.")


@pytest.mark.parametrize("change", [
    lambda t: t.replace("000.01.21.H57", "000.00.02.H57"),     # another recipient
    lambda t: t.replace("m-1", "m-2"),                         # another message
    lambda t: t.rsplit(".", 2)[0] + ".9999999999." + t.rsplit(".", 1)[1],  # a later expiry
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another signature
    lambda t: "garbage",
])
def test_a_changed_token_is_invalid(change: object) -> None:
    token = signer().mint("m-1", "000.01.21.H57", now=NOW)
    with pytest.raises(NotFound) as refused:
        signer().read(change(token), now=NOW)  # type: ignore[operator]
    assert refused.value.code == "link_invalid"


def test_another_hubs_secret_does_not_verify() -> None:
    token = LinkSigner(b"t" * 32, 3600, "https://x").mint("m-1", "000.01.21.H57", now=NOW)
    with pytest.raises(NotFound):
        signer().read(token, now=NOW)


def test_links_are_off_without_a_public_url_and_refused_with_a_short_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert LinkSigner.from_settings(Links()) is None
    monkeypatch.setenv("LIENTHONG_LINK_SECRET", "short")
    with pytest.raises(HubError) as refused:
        LinkSigner.from_settings(Links(public_url="https://lgsp.hue.gov.vn"))
    assert refused.value.code == "links_misconfigured"
    monkeypatch.setenv("LIENTHONG_LINK_SECRET", "x" * 32)
    assert LinkSigner.from_settings(Links(public_url="https://lgsp.hue.gov.vn")) is not None
