"""Shared test helpers: real components skip on a laptop and fail under CI."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = bool(os.environ.get("CI"))


def require(condition: bool, reason: str) -> None:
    """Skip the test when ``condition`` is false, or fail it when running under CI."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required component missing under CI: {reason}")
        pytest.skip(reason)


def have_binary(name: str) -> bool:
    return shutil.which(name) is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
