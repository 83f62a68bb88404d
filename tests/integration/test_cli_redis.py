"""The Redis commands of the CLI against a real redis-server and a real worker process:
submit, status --json, failed, requeue --failed after a fix, logs, stats, list, cancel;
and a bad spec that exits 2 and leaves Redis empty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dispatcher.state import StateStore
from tests.redis_server import RedisServer
from tests.worker.runs import start_worker

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FAST = ("--lease-seconds", "5", "--retry-backoff", "0.2")


def cli(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHARDYARD_REDIS_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def spec_file(tmp_path: Path, **reader: Any) -> Path:
    (tmp_path / "in").mkdir(exist_ok=True)
    for i in range(3):
        lines = [json.dumps({"text": f"shard {i} line {j}", "id": f"{i}-{j}"}) for j in range(25)]
        (tmp_path / "in" / f"part-{i}.jsonl").write_text("\n".join(lines) + "\n")
    spec = {
        "name": "cli-run",
        "stages": [
            {
                "name": "copy",
                "tasks": 3,
                "max_attempts": 1,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(tmp_path / "in"), **reader}},
                    {"JsonlWriter": {"output_folder": str(tmp_path / "out")}},
                ],
            }
        ],
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_bad_spec_exits_2_and_enqueues_nothing(redis_server: RedisServer, tmp_path: Path) -> None:
    spec = yaml.safe_load(spec_file(tmp_path).read_text())
    spec["stages"][0]["pipeline"][1]["JsonlWriter"]["compresion"] = "gzip"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec))
    for command in ("submit", "run"):
        result = cli(redis_server.url, command, str(bad), "--redis", redis_server.url)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "stages[0].pipeline[1].JsonlWriter.compresion" in result.stderr
        assert "did you mean 'compression'" in result.stderr
        assert "Traceback" not in result.stderr
        assert redis_server.client().dbsize() == 0, f"{command} wrote to Redis"


@pytest.mark.slow
def test_submit_status_failed_requeue_after_fix(redis_server: RedisServer, tmp_path: Path) -> None:
    url = redis_server.url
    (tmp_path / "paths.txt").write_text("part-0.jsonl\npart-1.jsonl\nlate.jsonl\n")
    spec = spec_file(tmp_path, paths_file=str(tmp_path / "paths.txt"))
    logs = tmp_path / "logs"
    submitted = cli(url, "submit", str(spec), "--logging-dir", str(logs))
    assert submitted.returncode == 0, submitted.stderr
    assert "stage copy: 3 shard(s) enqueued" in submitted.stdout

    status = json.loads(cli(url, "status", "cli-run", "--json").stdout)
    assert status == {
        "complete": False,
        "stages": [{"name": "copy", "tasks": 3, "done": 0, "failed": 0, "running": 0}],
    }
    store = StateStore.from_url(url)
    worker = start_worker(url, *FAST, log_path=tmp_path / "worker.log")
    try:
        wait_for(lambda: store.status("cli-run")["stages"][0]["failed"] == 1, 120, "a failure")
        wait_for(lambda: store.status("cli-run")["stages"][0]["done"] == 2, 60, "two done")
        status = json.loads(cli(url, "status", "cli-run", "--json").stdout)
        assert status["stages"] == [
            {"name": "copy", "tasks": 3, "done": 2, "failed": 1, "running": 0}
        ]
        failed = cli(url, "failed", "cli-run")
        assert failed.returncode == 0 and "copy/2 (failed, attempt 1" in failed.stdout
        assert "late.jsonl" in failed.stdout

        (tmp_path / "in" / "part-2.jsonl").rename(tmp_path / "in" / "late.jsonl")  # the fix
        requeued = cli(url, "requeue", "cli-run", "--failed")
        assert requeued.returncode == 0 and "requeued 1 rank(s) [2]" in requeued.stdout
        wait_for(lambda: bool(store.status("cli-run")["complete"]), 120, "completion")
    finally:
        stop(worker)

    final = json.loads(cli(url, "status", "cli-run", "--json").stdout)
    assert final == {
        "complete": True,
        "stages": [{"name": "copy", "tasks": 3, "done": 3, "failed": 0, "running": 0}],
    }
    assert cli(url, "failed", "cli-run").stdout.strip() == "cli-run: no failures"
    merged = json.loads((logs / "stats.json").read_text())  # written by the worker
    assert merged["shards"] == 3
    out = tmp_path / "again.json"
    assert cli(url, "stats", "cli-run", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text()) == merged
    shard_log = cli(url, "logs", "cli-run", "2")
    assert shard_log.returncode == 0 and '"completed"' in shard_log.stdout
    listed = cli(url, "list")
    assert listed.returncode == 0 and "cli-run: complete" in listed.stdout
    resubmitted = cli(url, "submit", str(spec), "--logging-dir", str(logs))
    assert "already complete" in resubmitted.stdout


@pytest.mark.slow
def test_cancel_then_submit_again(redis_server: RedisServer, tmp_path: Path) -> None:
    url = redis_server.url
    spec = spec_file(tmp_path)
    assert cli(url, "submit", str(spec)).returncode == 0
    assert cli(url, "cancel", "cli-run").returncode == 0
    store = StateStore.from_url(url)
    assert store.is_cancelled("cli-run")
    missing = cli(url, "cancel", "nope")
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
    resumed = cli(url, "submit", str(spec))
    assert resumed.returncode == 0 and not store.is_cancelled("cli-run")
