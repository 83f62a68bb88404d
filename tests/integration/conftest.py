"""Fixtures for tests against real components: a real ``redis-server`` (``redis_server``
with ``.url`` and ``.restart()``, ``redis_url``) and, for fast tests, ``fake_redis``."""

from __future__ import annotations

from tests.redis_server import (  # noqa: F401  (pytest fixtures)
    fake_redis,
    redis_server,
    redis_server_session,
    redis_url,
)
