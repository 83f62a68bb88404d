"""Worker tests use the real-Redis fixtures (``redis_server``, ``redis_url``) and ``fake_redis``."""

from __future__ import annotations

from tests.redis_server import (  # noqa: F401  (pytest fixtures)
    fake_redis,
    redis_server,
    redis_server_session,
    redis_url,
)
