"""Multi-stage runs through the barrier with no dispatcher alive, CeleryPipelineExecutor
with a dependency, and the batched sender's messages, on a real redis-server."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from blocks.filters.regex import RegexFilter
from blocks.readers.jsonl import JsonlReader
from blocks.writers.jsonl import JsonlWriter
from dispatcher.executors.celery import TASK_NAME, CeleryPipelineExecutor, CelerySender
from dispatcher.state import StateStore
from dispatcher.task import ShardTask
from tests.helpers import require
from tests.redis_server import RedisServer
from tests.worker.runs import start_worker
from worker.app import make_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FAST = ("--lease-seconds", "5", "--retry-backoff", "0.2")
PATTERN = r"\b(government|minister)\b"


@pytest.fixture(scope="module")
def real_docs() -> list[dict[str, Any]]:
    try:
        from bench.realdata import text_documents

        return text_documents()[:400]
    except Exception as err:
        require(False, f"real data unavailable: {err}")
        raise


def write_inputs(folder: Path, docs: list[dict[str, Any]], files: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        with (folder / f"part-{i}.jsonl").open("w", encoding="utf-8") as fh:
            for doc in docs[i::files]:
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")


def read_outputs(folder: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl*")):
        opener: Any = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh if line.strip())
    return out


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_stages_complete_through_the_barrier_with_no_dispatcher_alive(
    redis_server: RedisServer, tmp_path: Path, real_docs: list[dict[str, Any]]
) -> None:
    write_inputs(tmp_path / "in", real_docs)
    spec = {
        "name": "three-stages",
        "stages": [
            {
                "name": "filter",
                "tasks": 3,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(tmp_path / "in")}},
                    {"RegexFilter": {"regex_exp": PATTERN}},
                    {"JsonlWriter": {"output_folder": str(tmp_path / "s1")}},
                ],
            },
            {
                "name": "regroup",
                "tasks": 2,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(tmp_path / "s1")}},
                    {"JsonlWriter": {"output_folder": str(tmp_path / "s2"), "compression": None}},
                ],
            },
            {
                "name": "split",
                "sharding": "by_size",
                "target_shard_bytes": 64 * 1024,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(tmp_path / "s2")}},
                    {"JsonlWriter": {"output_folder": str(tmp_path / "s3")}},
                ],
            },
        ],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHARDYARD_REDIS_URL": redis_server.url}
    submitter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dispatcher.cli",
            "submit",
            str(tmp_path / "spec.yaml"),
            "--logging-dir",
            str(tmp_path / "logs"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = submitter.communicate(timeout=120)
    assert submitter.returncode == 0, out.decode()
    assert submitter.poll() is not None, "the dispatcher is gone before any worker starts"

    store = StateStore.from_url(redis_server.url)
    workers = [
        start_worker(redis_server.url, *FAST, log_path=tmp_path / f"w{i}.log") for i in range(2)
    ]
    try:
        wait_for(lambda: bool(store.status("three-stages")["complete"]), 240, "all three stages")
    finally:
        stop(*workers)

    expected = sorted(d["id"] for d in real_docs if re.search(PATTERN, d["text"]) is None)
    for stage_dir in ("s1", "s2", "s3"):
        assert sorted(d["id"] for d in read_outputs(tmp_path / stage_dir)) == expected, stage_dir
    split = store.stage_plan("three-stages", "split")
    assert split is not None and split.tasks > 2, "by_size cut the big files into ranges"
    assert any(f[1] is not None for files in split.shards if files for f in files), (
        "byte ranges were planned"
    )
    for stage in ("filter", "regroup"):
        assert store.stage_advanced("three-stages", stage), "the next stage was enqueued once"
    stats = json.loads((tmp_path / "logs" / "stats.json").read_text())
    assert stats["format"] == "shardyard.stages/1"
    assert list(stats["stages"]) == ["filter", "regroup", "split"]
    shards = {name: doc["shards"] for name, doc in stats["stages"].items()}
    assert shards == {"filter": 3, "regroup": 2, "split": split.tasks}
    writer = stats["stages"]["split"]["blocks"][-1]
    assert writer["stats"]["documents"]["total"] == len(expected)


@pytest.mark.slow
def test_celery_executor_waits_for_its_dependency(
    redis_server: RedisServer, tmp_path: Path, real_docs: list[dict[str, Any]]
) -> None:
    write_inputs(tmp_path / "in", real_docs[:120], files=3)
    worker = start_worker(redis_server.url, *FAST, log_path=tmp_path / "w.log")
    try:
        first = CeleryPipelineExecutor(
            [
                JsonlReader(str(tmp_path / "in")),
                RegexFilter(PATTERN),
                JsonlWriter(str(tmp_path / "a")),
            ],
            tasks=3,
            redis_url=redis_server.url,
            logging_dir=str(tmp_path / "logs-a"),
            name="first",
        )
        second = CeleryPipelineExecutor(
            [JsonlReader(str(tmp_path / "a")), JsonlWriter(str(tmp_path / "b"))],
            tasks=2,
            redis_url=redis_server.url,
            logging_dir=str(tmp_path / "logs-b"),
            name="second",
            depends=first,
        )
        stats = second.run()  # runs `first`, waits for it, then runs itself
    finally:
        stop(worker)
    expected = sorted(d["id"] for d in real_docs[:120] if re.search(PATTERN, d["text"]) is None)
    assert sorted(d["id"] for d in read_outputs(tmp_path / "b")) == expected
    assert stats is not None and stats.shards == 2
    assert stats["JsonlWriter"].stats["documents"].total == len(expected)
    assert json.loads((tmp_path / "logs-a" / "stats.json").read_text())["shards"] == 3
    store = StateStore.from_url(redis_server.url)
    assert store.get_run(second.run_id).options["depends"] == [first.run_id]  # type: ignore[union-attr]


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def test_batched_envelopes_match_send_task(redis_server: RedisServer) -> None:
    app = make_app(redis_server.url)
    client = redis_server.client()
    task = ShardTask(run_id="r", stage="s", rank=0, world_size=3, spec_hash="h", queue="q")
    app.send_task(TASK_NAME, args=[task.encode()], queue="reference")
    reference = json.loads(client.lindex("reference", 0))
    sender = CelerySender(app, batch_size=2)
    messages = [
        ShardTask(run_id="r", stage="s", rank=i, world_size=3, spec_hash="h", queue="q").encode()
        for i in range(3)
    ]
    sender.send_many("batched", messages)
    entries = [json.loads(e) for e in client.lrange("batched", 0, -1)]
    assert len(entries) == 3
    for entry in entries:
        assert _shape(entry) == _shape(reference)
        assert entry["headers"]["task"] == TASK_NAME
        assert entry["properties"]["delivery_info"]["routing_key"] == "batched"
    # consumers pop from the right: rank order is kept
    import base64

    ranks = [
        ShardTask.decode(json.loads(base64.b64decode(e["body"]))[0][0]).rank
        for e in reversed(entries)
    ]
    assert ranks == [0, 1, 2]
    assert len({e["headers"]["id"] for e in entries}) == 3


@pytest.mark.slow
def test_a_dependent_run_is_started_by_the_worker_that_completes_its_dependency(
    redis_server: RedisServer, tmp_path: Path, real_docs: list[dict[str, Any]]
) -> None:
    write_inputs(tmp_path / "in", real_docs[:80], files=2)

    def spec(name: str, src: str, dst: str, depends: list[str]) -> Path:
        path = tmp_path / f"{name}.yaml"
        data: dict[str, Any] = {
            "name": name,
            "stages": [
                {
                    "name": "copy",
                    "tasks": 2,
                    "pipeline": [
                        {"JsonlReader": {"data_folder": str(tmp_path / src)}},
                        {"JsonlWriter": {"output_folder": str(tmp_path / dst)}},
                    ],
                }
            ],
        }
        if depends:
            data["depends"] = depends
        path.write_text(yaml.safe_dump(data))
        return path

    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHARDYARD_REDIS_URL": redis_server.url}

    def submit(path: Path) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "dispatcher.cli", "submit", str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "enqueued" in submit(spec("upstream", "in", "a", []))
    assert "waiting for upstream" in submit(spec("downstream", "a", "b", ["upstream"]))
    store = StateStore.from_url(redis_server.url)
    assert store.stage_plan("downstream", "copy") is None
    worker = start_worker(redis_server.url, *FAST, log_path=tmp_path / "w.log")
    try:
        wait_for(lambda: bool(store.status("downstream")["complete"]), 180, "the dependent run")
    finally:
        stop(worker)
    ids = sorted(d["id"] for d in real_docs[:80])
    assert sorted(d["id"] for d in read_outputs(tmp_path / "b")) == ids
