"""Every route of the app declares who may call it: the role table of the route test
(tests/integration/test_route_roles.py) must list each one, so a new route cannot slip in
without saying who may call it."""

from __future__ import annotations

from tests.integration.test_route_roles import ROUTES, served_routes


def test_the_table_lists_every_route() -> None:
    assert served_routes() == set(ROUTES), (
        "every route must declare who may call it, here and in docs/security.md")
