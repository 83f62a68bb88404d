"""The worker image for real, through testcontainers (reaper off: no registry to pull it).

A Redis container and two worker containers from the built image share a Docker network;
the dispatcher runs on the host (``shardyard submit`` against Redis's mapped port) with
the example pipeline on real texts. One worker container is SIGKILLed while both are
running a shard: its message comes back after the visibility timeout, the survivor runs
it, and the run completes with outputs and merged stats equal to an in-process run.

The data folder is bind-mounted at the same path inside the containers, so the spec's
absolute paths mean the same on both sides. Containers are removed even on failure
(and ``scripts/setup/teardown.sh`` removes any left by label).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatcher.state import StateStore
from tests.helpers import require
from tests.integration.deploy_support import (
    IMAGE,
    PLUGIN_MODULE,
    REDIS_IMAGE,
    counters,
    docker_ready,
    example_spec,
    expected_run,
    hidden_files,
    image_present,
    open_world,
    plugin_dir,
    read_docs,
    stale_temps,
    wait_until,
    write_inputs,
    write_spec,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

PASSWORD = secrets.token_hex(12)
VISIBILITY = 12  # seconds before the killed worker's message is given to the survivor
SLOW = 0.04  # seconds per document: a 121-document shard runs ~5 s


@pytest.fixture(scope="module")
def docker_images() -> None:
    require(docker_ready(), "no Docker engine (run scripts/setup/docker.sh)")
    for image in (IMAGE, REDIS_IMAGE):
        require(image_present(image), f"image {image} not built (run scripts/setup/images.sh)")


class Deployment:
    """Redis + N worker containers on one network; stops them all on exit."""

    def __init__(self, data: Path, plugins: Path, workers: int) -> None:
        from testcontainers.core.config import testcontainers_config
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.network import Network

        testcontainers_config.ryuk_disabled = True
        self.started: list[Any] = []
        self.network = Network().create()
        try:
            redis = (
                DockerContainer(REDIS_IMAGE)
                .with_command(["redis-server", "--requirepass", PASSWORD, "--appendonly", "yes"])
                .with_network(self.network)
                .with_network_aliases("redis")
                .with_exposed_ports(6379)
            )
            self.redis = redis.start()
            self.started.append(self.redis)
            host = self.redis.get_container_host_ip()
            port = self.redis.get_exposed_port(6379)
            self.url = f"redis://:{PASSWORD}@{host}:{port}/0"
            self.store = StateStore.from_url(self.url)
            wait_until(self._redis_up, 30, "the Redis container")
            self.workers = []
            for i in range(workers):
                worker = (
                    DockerContainer(IMAGE)
                    .with_command(["--concurrency", "1", "--visibility-timeout", str(VISIBILITY)])
                    .with_env("SHARDYARD_REDIS_URL", f"redis://:{PASSWORD}@redis:6379/0")
                    .with_env("SHARDYARD_LEASE_SECONDS", "4")
                    .with_env("SHARDYARD_LOG_FORMAT", "json")
                    .with_env("PYTHONPATH", str(plugins))
                    .with_volume_mapping(str(data), str(data), "rw")
                    .with_volume_mapping(str(plugins), str(plugins), "ro")
                    .with_network(self.network)
                    .with_name(f"sy-it-worker{i}-{secrets.token_hex(3)}")
                )
                self.workers.append(worker.start())
                self.started.append(self.workers[-1])
        except BaseException:
            self.close()
            raise

    def _redis_up(self) -> bool:
        try:
            return bool(self.store.redis.ping())
        except Exception:
            return False

    def workers_ready(self) -> bool:
        return all(b"worker_ready" in b"".join(w.get_logs()) for w in self.workers)

    def logs(self) -> str:
        parts = []
        for container in self.started:
            try:
                out, err = container.get_logs()
                name = container.get_wrapped_container().name
                parts.append(f"--- {name}\n{(out + err).decode(errors='replace')[-3000:]}")
            except Exception as exc:
                parts.append(f"--- (logs unavailable: {exc})")
        return "\n".join(parts)

    def close(self) -> None:
        for container in reversed(self.started):
            try:
                container.stop()
            except Exception:
                pass
        try:
            self.network.remove()
        except Exception:
            pass


@pytest.fixture
def deployment(tmp_path: Path, docker_images: None) -> Iterator[tuple[Deployment, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    plugins = plugin_dir(tmp_path)
    dep = Deployment(data, plugins, workers=2)
    try:
        yield dep, data
    finally:
        dep.close()


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_two_worker_containers_one_killed_mid_run(
    tmp_path: Path, deployment: tuple[Deployment, Path]
) -> None:
    dep, data = deployment
    documents = write_inputs(data)
    (data / "logs").mkdir()  # the dispatcher writes executor.json, a worker stats.json
    open_world(data)  # the image runs as uid 1000, this test as whoever runs it
    spec = example_spec(str(data), name="docker-it", slow=SLOW)
    spec_file = write_spec(spec, tmp_path / "spec.yaml")
    expected = expected_run(spec, str(data), tmp_path / "expected")

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"), str(Path.cwd())]),
    }
    env.pop("SHARDYARD_REDIS_URL", None)
    # both consuming before anything is sent, so they take their first shards together
    # and the kill below lands seconds before either could finish
    wait_until(dep.workers_ready, 120, "both workers to be ready")
    submitted = cli("submit", str(spec_file), "--redis", dep.url, cwd=tmp_path, env=env)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "docker-it: stage filter: 4 shard(s) enqueued" in submitted.stdout

    def both_busy() -> bool:
        stage = dep.store.status("docker-it")["stages"][0]
        return stage["running"] == 2

    try:
        wait_until(both_busy, 120, "both worker containers running a shard", every=0.2)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{dep.store.status('docker-it')}\n{dep.logs()}") from None
    victim = dep.workers[0].get_wrapped_container()
    victim.kill()  # SIGKILL: no chance to give the shard back
    victim.reload()
    assert victim.status in ("exited", "dead")

    def complete() -> bool:
        return bool(dep.store.status("docker-it")["complete"])

    try:
        wait_until(complete, 240, "the run to complete on the surviving worker", every=1.0)
    except AssertionError:
        raise AssertionError(dep.logs()) from None

    status = cli("status", "docker-it", "--redis", dep.url, "--json", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == {
        "complete": True,
        "stages": [{"name": "filter", "tasks": 4, "done": 4, "failed": 0, "running": 0}],
    }
    # every shard once in the outputs, the killed one included
    assert read_docs(data / "out") == expected["out"]
    assert read_docs(data / "removed") == expected["removed"]
    assert hidden_files(data / "out") == [] and hidden_files(data / "removed") == []
    # stats: written by the worker that completed the last rank, and merged on demand
    stats_file = data / "logs" / "stats.json"  # merged by the worker after its last rank
    try:
        wait_until(stats_file.exists, 30, "stats.json from the worker that finished last")
    except AssertionError as err:
        raise AssertionError(f"{err}\n{dep.logs()}") from None
    written = json.loads(stats_file.read_text())
    assert written["shards"] == 4
    assert counters(written) == counters(expected["stats"])
    assert counters(written)["JsonlReader.documents"][1] == str(documents)
    assert stale_temps(written) <= 2  # at most the killed attempt's two writers' temp files
    merged = cli("stats", "docker-it", "--redis", dep.url, cwd=tmp_path, env=env)
    assert merged.returncode == 0, merged.stderr
    assert counters(json.loads(merged.stdout)) == counters(expected["stats"])
    # the killed worker's shard ran again: one rank needed a second attempt
    attempts = dep.store.attempts("docker-it", "filter")
    assert sorted(attempts.values()) == [1, 1, 1, 2], attempts
    assert PLUGIN_MODULE in json.dumps(spec)
