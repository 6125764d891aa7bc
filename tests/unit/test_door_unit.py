"""The door's rate limiter when its store is away: requests go through, said once."""

from __future__ import annotations

import logging

import pytest

from hub.api import guard


def failing() -> float:
    raise ConnectionError("no redis")


def test_a_lost_limiter_is_said_once_and_its_return_once(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.api.guard"):
        assert [guard._guarded(failing) for _ in range(50)] == [0.0] * 50
        assert guard._guarded(lambda: 2.5) == 2.5
        assert guard._guarded(lambda: 0.0) == 0.0
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2
    assert said[0].startswith("rate limiter unavailable (ConnectionError)")
    assert said[1] == "rate limiter reachable again; limits apply"
    assert all(r.exc_info is None for r in caplog.records)  # no traceback per request
