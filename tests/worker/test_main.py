"""``python -m worker``: arguments, URL refusal, stop handlers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from dispatcher.settings import Settings
from tests.worker.runs import ROOT
from worker import tasks as worker_tasks
from worker.__main__ import main, parse_args, queue_keys


def test_flags_default_to_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SHARDYARD_REDIS_URL": "redis://127.0.0.1:6379/0",
            "SHARDYARD_QUEUE": "q1",
            "SHARDYARD_PLUGINS": "a.b, c",
            "SHARDYARD_LEASE_SECONDS": "15",
            "SHARDYARD_VISIBILITY_TIMEOUT": "120",
        }
    )
    args = parse_args([], settings)
    assert (args.redis, args.queue, args.plugins) == ("redis://127.0.0.1:6379/0", "q1", "a.b,c")
    assert (args.lease_seconds, args.visibility_timeout) == (15.0, 120.0)
    assert args.exit_when_idle is None and args.concurrency == 1
    args = parse_args(["--redis", "redis://x:1/0", "--exit-when-idle", "30"], settings)
    assert args.redis == "redis://x:1/0" and args.exit_when_idle == 30.0


def test_redis_url_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args([], Settings.from_env({}))
    assert info.value.code == 2
    assert "SHARDYARD_REDIS_URL" in capsys.readouterr().err


def test_queue_keys_include_kombu_priority_lists() -> None:
    assert queue_keys("q") == ["q", "q\x06\x163", "q\x06\x166", "q\x06\x169"]


def test_passwordless_remote_redis_exits_2_before_connecting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHARDYARD_REDIS_URL", raising=False)
    assert main(["--redis", "redis://10.9.8.7:6379/0"]) == 2
    assert "passwordless" in capsys.readouterr().err


def test_unknown_plugin_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--redis", "redis://127.0.0.1:1/0", "--plugins", "no_such_mod_x"]) == 2
    assert "no_such_mod_x" in capsys.readouterr().err


@pytest.mark.slow
def test_help_runs_as_a_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "worker", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--exit-when-idle" in out.stdout and "example:" in out.stdout


def test_stop_signal_sets_the_flag_and_chains_the_previous_handler() -> None:
    seen: list[int] = []
    original = signal.getsignal(signal.SIGUSR1)

    def previous(sig: int, frame: Any) -> None:
        seen.append(sig)

    signal.signal(signal.SIGUSR1, previous)
    worker_tasks.STOP.clear()
    try:
        worker_tasks.install_stop_handlers((signal.SIGUSR1,), chain=True)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert worker_tasks.STOP.is_set()
        assert seen == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, original)
        worker_tasks.STOP.clear()
