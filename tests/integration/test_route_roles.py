"""Every route admits exactly the roles it declares: a walk over every route of the app
(the OpenAPI document, the SOAP endpoint and the documentation pages) with no credentials,
a system's key, an auditor, an operator, an admin, an expired token and a revoked token.

The table below is the declaration under test: a route added without an entry fails
`test_the_table_lists_every_route`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from core.settings import Settings
from hub.app import create_app
from security import people
from tests import services
from tests.soap_support import envelope, headers, read_fault, security
from tests.support import (
    KEYS,
    LiveHub,
    body,
    close_windows,
    document,
    events_after,
    hue_directory,
    last_seq,
    run_hub,
    run_receiver,
)

pytestmark = pytest.mark.integration

OPEN = frozenset({"anyone"})  # no authentication: probes, metrics, the descriptions
SYSTEMS = frozenset({"system"})
READERS = frozenset({"system", "auditor", "operator", "admin"})
AUTHENTICATED = frozenset({"system", "auditor", "operator", "admin"})
AUDITORS = frozenset({"auditor"})
OPERATORS = frozenset({"operator", "admin"})
ADMINS = frozenset({"admin"})

ROUTES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/metrics"): OPEN,
    ("POST", "/api/v1/documents"): SYSTEMS,
    ("POST", "/api/v1/statuses"): SYSTEMS,
    ("GET", "/api/v1/messages/{message_id}"): READERS,
    ("GET", "/api/v1/inbox"): SYSTEMS,
    ("GET", "/api/v1/inbox/{message_id}"): SYSTEMS,
    ("POST", "/api/v1/inbox/{message_id}/ack"): SYSTEMS,
    ("GET", "/api/v1/organizations"): AUTHENTICATED,
    ("GET", "/api/v1/overdue"): READERS,  # a system sees its own documents' and its own
    ("GET", "/api/v1/audit"): AUDITORS,
    ("GET", "/api/v1/audit/verify"): AUDITORS,
    ("GET", "/api/v1/deadletters"): OPERATORS,
    ("POST", "/api/v1/deadletters/replay"): OPERATORS,
    ("POST", "/api/v1/admin/reload"): ADMINS,
    # public, but the signed, expiring token in the path is the credential (core/links.py)
    ("GET", "/api/v1/links/{token}"): OPEN,
    ("GET", "/soap"): OPEN,  # the WSDL
    ("POST", "/soap"): SYSTEMS,  # every operation; people do not use SOAP
    ("GET", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/redoc"): OPEN,
}

CALLERS = ["nobody", "system", "auditor", "operator", "admin", "expired", "revoked"]
# what a refused caller gets on a route that authenticates
REFUSED = {"nobody": (401, "missing_credentials"), "expired": (401, "token_expired"),
           "revoked": (401, "token_revoked")}
GATE_CODES = {"missing_credentials", "invalid_credentials", "token_expired", "token_revoked",
              "role_forbidden", "malformed_credentials"}


@dataclass
class World:
    hub: LiveHub
    tokens: dict[str, str]
    message_id: str


@pytest.fixture(scope="module")
def world(pg_server: str | None) -> Iterator[World]:
    server = services.require(pg_server, "PostgreSQL")
    with services.fresh_database(server, "lt_roles") as url:
        # every caller of the table fails to log in somewhere: the subject here is roles, not
        # the failed-login budget of one source address (tests/integration/test_door.py)
        settings = Settings(database_url=url, broker_namespace=f"lt-roles-{url[-12:]}",
                            rate_limits={"enabled": False})
        with run_receiver() as receiver, run_hub(settings, hue_directory(receiver.url)) as hub:
            now = dt.datetime.now(dt.UTC)
            with hub.ctx.db.transaction() as session:
                tokens = {role: people.add(session, role[:3] + "-person", role, actor="cli:test",
                                           days=30).token
                          for role in ("auditor", "operator", "admin")}
                tokens["expired"] = people.add(session, "late", "admin", actor="cli:test",
                                               days=1, now=now - dt.timedelta(days=2)).token
                tokens["revoked"] = people.add(session, "gone", "admin", actor="cli:test",
                                               days=30).token
                people.revoke(session, "gone", actor="cli:test")
            r = httpx.post(f"{hub.url}/api/v1/documents", content=body(document(301)),
                           headers={"Authorization": f"Bearer {KEYS['province']}",
                                    "Content-Type": "application/json"}, timeout=30)
            assert r.status_code == 202, r.text
            yield World(hub, tokens, r.json()["id"])


def rest_headers(world: World, caller: str) -> dict[str, str]:
    if caller == "nobody":
        return {}
    secret = KEYS["province"] if caller == "system" else world.tokens[caller]
    return {"Authorization": f"Bearer {secret}"}


def soap_call(world: World, caller: str) -> httpx.Response:
    """GetOrganizations with the caller's credentials as a SOAP client would send them: a
    system in a UsernameToken, a person with the bearer header they use on REST."""
    header, extra = "", {}
    if caller == "system":
        header = security("province", KEYS["province"])
    elif caller != "nobody":
        extra = {"Authorization": f"Bearer {world.tokens[caller]}"}
    return httpx.post(f"{world.hub.url}/soap",
                      content=envelope("<lt:GetOrganizations/>", header),
                      headers={**headers("1.2", "GetOrganizations"), **extra}, timeout=30)


def call(world: World, method: str, path: str, caller: str, n: int) -> httpx.Response:
    if (method, path) == ("POST", "/soap"):
        return soap_call(world, caller)
    url = world.hub.url + path.replace("{message_id}", world.message_id)
    h = rest_headers(world, caller)
    if path.endswith("/ack"):
        return httpx.post(url, json={"result": "done"}, headers=h, timeout=30)
    if method == "POST":
        doc = document(400 + n)
        return httpx.post(url, content=body(doc), timeout=30,
                          headers={**h, "Content-Type": "application/json"})
    return httpx.get(url, headers=h, timeout=30)


def served_routes() -> set[tuple[str, str]]:
    app = create_app(Settings())
    found = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    # and those the OpenAPI document leaves out (the SOAP endpoint, the documentation pages)
    for route in iter_route_contexts(app.routes):
        found |= {(m, route.path or "") for m in route.methods or () if m != "HEAD"}
    return found


def outcome(response: httpx.Response, soap: bool) -> tuple[int, str | None]:
    if soap and b"Fault>" in response.content:
        return response.status_code, read_fault(response.content).code
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.status_code, response.json()["code"]
    return response.status_code, None


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_route_admits_exactly_the_roles_it_declares(
    world: World, route: tuple[str, str], caller: str
) -> None:
    method, path = route
    declared = ROUTES[route]
    soap = route == ("POST", "/soap")
    status, code = outcome(call(world, method, path, caller, CALLERS.index(caller)), soap)
    if declared is OPEN or caller in declared:
        assert status < 500 and code not in GATE_CODES, (status, code)
        assert status not in (401, 403)
        return
    if soap:  # a person's token is not a credential there at all
        expected = (401, "missing_credentials" if caller == "nobody" else "invalid_credentials")
    else:
        expected = REFUSED.get(caller, (403, "role_forbidden"))
    assert (status, code) == expected


def test_admitted_callers_get_what_they_asked_for(world: World) -> None:
    # the walk proves the gate; this proves the admitted calls really work
    for caller in READERS:
        r = httpx.get(f"{world.hub.url}/api/v1/messages/{world.message_id}",
                      headers=rest_headers(world, caller), timeout=30)
        assert r.status_code == 200 and r.json()["id"] == world.message_id, (caller, r.text)
    for caller in AUTHENTICATED:
        r = httpx.get(f"{world.hub.url}/api/v1/organizations",
                      headers=rest_headers(world, caller), timeout=30)
        assert r.status_code == 200 and r.json()["items"], (caller, r.text)
    assert b"GetOrganizationsResponse" in soap_call(world, "system").content


def test_a_person_refused_for_their_role_is_audited_once_by_name(world: World) -> None:
    before = last_seq(world.hub)
    r = httpx.get(f"{world.hub.url}/api/v1/inbox", headers=rest_headers(world, "auditor"),
                  timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "role_forbidden"
    assert r.json()["detail_vi"]
    events = events_after(world.hub, before)
    assert [(e["event"], e["actor"], e["code"], e["where"]) for e in events] == [
        ("message.rejected", "person:aud-person", "role_forbidden", "GET /api/v1/inbox")]


def test_a_system_on_a_route_for_people_only_would_be_refused_the_same_way(
    world: World
) -> None:
    before = last_seq(world.hub)
    r = httpx.post(f"{world.hub.url}/api/v1/documents", content=body(document(399)),
                   headers={**rest_headers(world, "operator"),
                            "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 403 and r.json()["code"] == "role_forbidden"
    events = events_after(world.hub, before)
    assert [(e["actor"], e["code"]) for e in events] == [("person:ope-person",
                                                          "role_forbidden")]


@pytest.mark.parametrize(("caller", "code"), [("expired", "token_expired"),
                                              ("revoked", "token_revoked")])
def test_a_dead_token_is_audited_with_the_person_it_belonged_to(
    world: World, caller: str, code: str
) -> None:
    close_windows(world.hub)  # refusals of unknown callers are summed per window
    before = last_seq(world.hub)
    r = httpx.get(f"{world.hub.url}/api/v1/organizations",
                  headers=rest_headers(world, caller), timeout=30)
    assert r.status_code == 401 and r.json()["code"] == code
    events = events_after(world.hub, before)
    assert len(events) == 1
    assert (events[0]["actor"], events[0]["claimed_identity"]) == (
        "unauthenticated", "person:late" if caller == "expired" else "person:gone")


@pytest.mark.parametrize("role", ["auditor", "operator", "admin"])
def test_a_persons_token_in_a_username_token_is_refused_on_soap(world: World, role: str) -> None:
    close_windows(world.hub)  # refusals of unknown callers are summed per window
    before = last_seq(world.hub)
    name = role[:3] + "-person"
    r = httpx.post(f"{world.hub.url}/soap",
                   content=envelope("<lt:GetOrganizations/>",
                                    security(name, world.tokens[role])),
                   headers=headers("1.2", "GetOrganizations"), timeout=30)
    # a fault with a UsernameToken is HTTP 500 (the SOAP binding), without one 401
    assert read_fault(r.content).code == "invalid_credentials"
    events = events_after(world.hub, before)
    assert [(e["code"], e["claimed_identity"]) for e in events] == [("invalid_credentials",
                                                                     name)]


def test_a_rotated_token_stops_working_at_the_next_request(world: World) -> None:
    with world.hub.ctx.db.transaction() as session:
        old = people.add(session, "rota", "operator", actor="cli:test", days=5).token
    url = f"{world.hub.url}/api/v1/organizations"
    assert httpx.get(url, headers={"Authorization": f"Bearer {old}"}).status_code == 200
    with world.hub.ctx.db.transaction() as session:
        new = people.rotate(session, "rota", actor="cli:test", days=5).token
    refused = httpx.get(url, headers={"Authorization": f"Bearer {old}"})
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_credentials")
    assert httpx.get(url, headers={"Authorization": f"Bearer {new}"}).status_code == 200
