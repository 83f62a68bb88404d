"""``shardyard slurm`` on a real one-node Slurm cluster (slurmctld, slurmd, munge).

- the example pipeline in the real Apptainer SIF (built from ``apptainer/shardyard.def``)
  with ``--start-redis``: Redis runs as its own Slurm job in the image, the two workers
  come as two arrays (``--max-array-size 1`` forces the split), and the Redis job stops
  by itself once the workers are gone;
- ``scancel`` of one element of a 2-worker array while both run a shard: its worker gets
  SIGTERM, gives the shard back without using an attempt, and the run completes;
- workers in a venv, a run depending on another (``--depends``: its array waits for the
  first's) and ``scontrol requeue`` of a running element.

Outputs and stats must equal an in-process run of the same spec. Every job of a test
is cancelled at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatcher.executors.slurm import DEFAULT_MAX_ARRAY_SIZE, Slurm, SlurmError
from dispatcher.state import StateStore
from tests.helpers import require
from tests.integration.deploy_support import (
    IMAGE,
    ROOT,
    counters,
    docker_ready,
    example_spec,
    expected_run,
    image_present,
    plugin_dir,
    read_docs,
    wait_until,
    write_inputs,
    write_spec,
)
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]
SIF = Path(os.environ.get("SHARDYARD_SIF", "/var/lib/shardyard/sif/shardyard.sif"))
SLOW = 0.05  # seconds per document: a 121-document shard runs ~6 s


def slurm_up() -> bool:
    if shutil.which("sbatch") is None or shutil.which("scontrol") is None:
        return False
    return subprocess.run(["scontrol", "ping"], capture_output=True, timeout=30).returncode == 0


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    require(slurm_up(), "no running Slurm cluster (run scripts/setup/slurm.sh)")


@pytest.fixture(scope="module")
def sif(slurm_cluster: None) -> Path:
    """The SIF of ``apptainer/shardyard.def`` for the current image (built when stale)."""
    require(shutil.which("apptainer") is not None, "no apptainer (run scripts/setup/apptainer.sh)")
    require(docker_ready() and image_present(IMAGE), f"no Docker image {IMAGE} to build from")
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup" / "sif.sh"), IMAGE, str(SIF)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return SIF


class Jobs:
    """Job names of one test; everything under them is cancelled at the end."""

    def __init__(self) -> None:
        self.prefix = f"sy-it-{secrets.token_hex(3)}"
        self.names: list[str] = []

    def name(self, suffix: str) -> str:
        name = f"{self.prefix}-{suffix}"
        self.names += [name, f"{name}-redis"]
        return name

    def rows(self) -> list[tuple[str, str, str]]:
        """``(job id, name, state)`` of this test's jobs still in the queue."""
        out = subprocess.run(
            ["squeue", "-h", "-r", "-o", "%i|%j|%T", "-n", ",".join(self.names)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        rows = [tuple(line.split("|")) for line in out.stdout.split()]
        return [(r[0], r[1], r[2]) for r in rows if len(r) == 3]

    def cancel(self) -> None:
        if self.names:
            subprocess.run(["scancel", "-n", ",".join(self.names)], capture_output=True, timeout=60)


@pytest.fixture
def jobs(slurm_cluster: None) -> Iterator[Jobs]:
    tracked = Jobs()
    try:
        yield tracked
    finally:
        tracked.cancel()
        wait_until(lambda: not tracked.rows(), 60, "the test's jobs to leave the queue")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``shardyard`` as a user runs it: from a data folder, with the plugin importable.
    PYTHONPATH holds only the plugin folder, so the SIF's Python (which inherits the
    environment through sbatch and apptainer) runs the image's own shardyard."""
    env = {**os.environ, "PYTHONPATH": str(cwd / "plugins"), "SHARDYARD_LOG_FORMAT": "json"}
    env.pop("SHARDYARD_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def prepare(tmp_path: Path, name: str, slow: float | None) -> tuple[Path, dict[str, Any], Path]:
    data = tmp_path / "data"
    write_inputs(data)
    plugin_dir(tmp_path)
    spec = example_spec(str(data), name=name, slow=slow)
    return data, spec, write_spec(spec, tmp_path / f"{name}.yaml")


def job_logs(logging_dir: Path) -> str:
    parts = [f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}"
             for p in sorted((logging_dir / "slurm" / "logs").glob("*.out"))]  # fmt: skip
    return "\n".join(parts)


def wait_complete(store: StateStore, run_id: str, logging_dir: Path, timeout: float) -> None:
    try:
        wait_until(lambda: store.status(run_id)["complete"], timeout, f"run {run_id}", every=1.0)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{job_logs(logging_dir)}") from None


def check_against_expected(data: Path, spec: dict[str, Any], tmp_path: Path) -> None:
    expected = expected_run(spec, str(data), tmp_path / "expected")
    assert read_docs(data / "out") == expected["out"]
    assert read_docs(data / "removed") == expected["removed"]
    written = json.loads((data / "logs" / "stats.json").read_text())
    assert written["shards"] == 4
    assert counters(written) == counters(expected["stats"])


def test_start_redis_runs_redis_and_split_worker_arrays_in_the_sif(
    tmp_path: Path, sif: Path, jobs: Jobs
) -> None:
    run_id = f"sl-redis-{jobs.prefix[-6:]}"
    data, spec, spec_file = prepare(tmp_path, run_id, slow=None)
    name = jobs.name("redis-run")
    out = cli(
        "slurm", str(spec_file), "--workers", "2", "--partition", "debug", "--time", "15",
        "--mem-per-cpu-gb", "1", "--image", str(sif), "--start-redis", "--max-array-size", "1",
        "--exit-when-idle", "5", "--job-name", name, "--redis-timeout", "300",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    logging_dir = data / "logs"
    assert f"{run_id}: stage filter: 4 shard(s) enqueued" in out.stdout
    assert "(started)" in out.stdout and out.stdout.count("workers: job ") == 2

    redis_dir = logging_dir / "slurm" / "redis"
    url = (redis_dir / "url").read_text().strip()
    assert oct((redis_dir / "url").stat().st_mode & 0o777) == "0o600"
    store = StateStore.from_url(url)
    wait_complete(store, run_id, logging_dir, 300)
    check_against_expected(data, spec, tmp_path)

    launches = json.loads((logging_dir / "slurm" / "jobs.json").read_text())["launches"]
    assert len(launches) == 1 and launches[0]["array_sizes"] == [1, 1]
    redis_job = launches[0]["redis_job"]
    script = (logging_dir / "launch_script.slurm").read_text()
    assert "#SBATCH --array=0-0" in script and f"--job-name={name}" in script
    assert url not in script
    # both elements ran a worker in the image; then the Redis job stopped on its own
    wait_until(lambda: not jobs.rows(), 180, "the workers and then the Redis job to end")
    logs = sorted((logging_dir / "slurm" / "logs").glob("worker_*.out"))
    assert len(logs) == 2, job_logs(logging_dir)
    redis_log = (logging_dir / "slurm" / "logs" / f"redis_{redis_job}.out").read_text()
    assert "no worker job left: stopping Redis" in redis_log
    assert not (redis_dir / "url").exists()  # removed when Redis stopped
    aof = list(redis_dir.glob("appendonly*"))
    assert aof, "Redis kept its AOF in the redis dir"


def test_scancel_of_a_running_element_gives_its_shard_back(
    tmp_path: Path, sif: Path, jobs: Jobs, redis_server: RedisServer
) -> None:
    run_id = f"sl-cancel-{jobs.prefix[-6:]}"
    data, spec, spec_file = prepare(tmp_path, run_id, slow=SLOW)
    name = jobs.name("cancel")
    out = cli(
        "slurm", str(spec_file), "--workers", "2", "--partition", "debug", "--time", "15",
        "--image", str(sif), "--redis", redis_server.url, "--exit-when-idle", "5",
        "--job-name", name,
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    logging_dir = data / "logs"
    array = json.loads((logging_dir / "slurm" / "jobs.json").read_text())["launches"][0]["arrays"][
        0
    ]
    store = StateStore.from_url(redis_server.url)

    def both_running_a_shard() -> bool:
        running = [r for r in jobs.rows() if r[2] == "RUNNING"]
        return len(running) == 2 and store.status(run_id)["stages"][0]["running"] == 2

    wait_until(both_running_a_shard, 240, "both elements running a shard", every=0.3)
    subprocess.run(["scancel", f"{array}_0"], check=True, timeout=30)

    wait_complete(store, run_id, logging_dir, 300)
    check_against_expected(data, spec, tmp_path)
    # given back, not lost: no shard used a second attempt, none failed
    assert sorted(store.attempts(run_id, "filter").values()) == [1, 1, 1, 1]
    assert store.status(run_id)["stages"][0]["failed"] == 0
    wait_until(lambda: not jobs.rows(), 120, "the elements to end")
    cancelled = (logging_dir / "slurm" / "logs" / f"worker_{array}_0.out").read_text()
    assert "stopped by a signal" in cancelled, cancelled[-3000:]
    shard_logs = [line for r in range(4) for line in store.logs(run_id, "filter", r)]
    assert any("preempted" in line for line in shard_logs), shard_logs


def test_venv_workers_depends_and_requeue(
    tmp_path: Path, jobs: Jobs, redis_server: RedisServer
) -> None:
    first_id = f"sl-first-{jobs.prefix[-6:]}"
    data, spec, spec_file = prepare(tmp_path, first_id, slow=SLOW)
    venv = Path(sys.prefix)
    common = ["--partition", "debug", "--time", "15", "--venv-path", str(venv),
              "--redis", redis_server.url, "--exit-when-idle", "5"]  # fmt: skip
    first_name = jobs.name("first")
    out = cli("slurm", str(spec_file), "--workers", "2", "--job-name", first_name, *common,
              cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    first_array = json.loads((data / "logs" / "slurm" / "jobs.json").read_text())["launches"][0][
        "arrays"
    ][0]

    # a second run reading the first's outputs, waiting for it
    second_id = f"sl-second-{jobs.prefix[-6:]}"
    second_root = tmp_path / "second"
    second = {
        "name": second_id,
        "logging_dir": str(second_root / "logs"),
        "stages": [
            {
                "name": "copy",
                "tasks": 2,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(data / "out")}},
                    {"JsonlWriter": {"output_folder": str(second_root / "out")}},
                ],
            }
        ],
    }
    second_file = write_spec(second, tmp_path / "second.yaml")
    out2 = cli("slurm", str(second_file), "--workers", "1", "--depends", first_id,
               "--job-name", jobs.name("second"), *common, cwd=tmp_path)  # fmt: skip
    assert out2.returncode == 0, out2.stdout + out2.stderr
    assert f"{second_id}: waiting for {first_id}" in out2.stdout
    launch2 = json.loads((second_root / "logs" / "slurm" / "jobs.json").read_text())["launches"][0]
    assert launch2["dependency"] == [first_array]

    store = StateStore.from_url(redis_server.url)

    def both_running_a_shard() -> bool:
        running = [r for r in jobs.rows() if r[1] == first_name and r[2] == "RUNNING"]
        return len(running) == 2 and store.status(first_id)["stages"][0]["running"] == 2

    wait_until(both_running_a_shard, 240, "both elements of the first run busy", every=0.3)
    element = f"{first_array}_1"
    subprocess.run(["scontrol", "requeue", element], check=True, timeout=30)
    # Slurm holds a requeued job back for a while (begin time): let it start again now
    wait_until(
        lambda: any(r[0] == element and r[2] == "PENDING" for r in jobs.rows()),
        60,
        "the requeued element back in the queue",
    )
    subprocess.run(
        ["scontrol", "update", f"JobId={element}", "StartTime=now"], check=True, timeout=30
    )

    wait_complete(store, first_id, data / "logs", 300)
    check_against_expected(data, spec, tmp_path)
    assert sorted(store.attempts(first_id, "filter").values()) == [1, 1, 1, 1]
    wait_complete(store, second_id, second_root / "logs", 400)
    assert read_docs(second_root / "out") == read_docs(data / "out")
    wait_until(lambda: not jobs.rows(), 300, "every element (the requeued one too) to end")
    requeued = (data / "logs" / "slurm" / "logs" / f"worker_{first_array}_1.out").read_text()
    assert "stopped by a signal" in requeued, requeued[-3000:]
    assert requeued.count('"worker_ready"') == 2, "the requeued element ran a worker again"


def test_usr1_to_the_batch_shell_gives_the_shard_back_and_a_new_launch_finishes(
    tmp_path: Path, jobs: Jobs, redis_server: RedisServer
) -> None:
    """What ``--signal=B:USR1@N`` does before the time limit, sent by hand: the element's
    script passes it to the worker as SIGTERM, the shard goes back to the queue, the
    element ends. Launching the same spec again finishes the run (nothing twice)."""
    run_id = f"sl-usr1-{jobs.prefix[-6:]}"
    data, spec, spec_file = prepare(tmp_path, run_id, slow=SLOW)
    name = jobs.name("usr1")
    args = ["slurm", str(spec_file), "--workers", "1", "--partition", "debug", "--time", "15",
            "--venv-path", sys.prefix, "--redis", redis_server.url, "--exit-when-idle", "5",
            "--job-name", name]  # fmt: skip
    first = cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "#SBATCH --signal=B:USR1@90" in (data / "logs" / "launch_script.slurm").read_text()
    array = json.loads((data / "logs" / "slurm" / "jobs.json").read_text())["launches"][0][
        "arrays"
    ][0]
    store = StateStore.from_url(redis_server.url)
    wait_until(lambda: store.status(run_id)["stages"][0]["running"] == 1, 240, "a running shard")
    subprocess.run(["scancel", "--batch", "--signal=USR1", f"{array}_0"], check=True, timeout=30)
    wait_until(lambda: not jobs.rows(), 120, "the signalled element to end")
    element = (data / "logs" / "slurm" / "logs" / f"worker_{array}_0.out").read_text()
    assert "stopped by a signal" in element, element[-3000:]
    status = store.status(run_id)
    assert not status["complete"] and status["stages"][0]["running"] == 0
    assert status["stages"][0]["done"] < 4

    again = cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    wait_complete(store, run_id, data / "logs", 300)
    check_against_expected(data, spec, tmp_path)
    assert sorted(store.attempts(run_id, "filter").values()) == [1, 1, 1, 1]
    launches = json.loads((data / "logs" / "slurm" / "jobs.json").read_text())["launches"]
    assert len(launches) == 2


def test_the_slurm_commands_wrapper_on_the_real_cluster(slurm_cluster: None) -> None:
    conf = Path("/etc/slurm/slurm.conf")
    configured = (
        re.search(r"^MaxArraySize=(\d+)", conf.read_text(), re.M) if conf.exists() else None
    )
    expected = int(configured.group(1)) if configured else DEFAULT_MAX_ARRAY_SIZE
    slurm = Slurm()
    assert slurm.max_array_size() == expected
    assert slurm.states("999999999") == [] and not slurm.alive("999999999")
    with pytest.raises(SlurmError, match="sbatch"):
        slurm.sbatch(["--partition=no-such-partition", "--wrap", "true"])
