"""A real moto S3 server on a free loopback port, for the S3 tests."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import free_port, require


def _command(port: int) -> list[str] | None:
    if importlib.util.find_spec("moto.server") is not None:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    binary = shutil.which("moto_server")
    return [binary, "-H", "127.0.0.1", "-p", str(port)] if binary else None


@contextmanager
def moto_server(log_dir: Path, *, start_timeout: float = 60.0) -> Iterator[str]:
    """Start ``moto_server``, yield its endpoint URL, stop it. Skips (fails under CI)
    when s3fs or moto[server] is missing."""
    require(importlib.util.find_spec("s3fs") is not None, "s3fs is not installed")
    port = free_port()
    command = _command(port)
    require(command is not None, "moto[server] is not installed")
    assert command is not None
    log_path = log_dir / "moto.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    urllib.request.urlopen(url, timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"moto_server did not start: {log_path.read_text()[-500:]}")
                    time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
