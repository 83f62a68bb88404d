"""``docker/compose.yaml`` for real: ``up --wait``, the README's run through it, ``down -v``.

The steps are the README's: put the real sample into the data volume with
``docker compose cp``, ``docker compose run --rm cli submit examples/quickstart.yaml``
(the repo's example, mounted read-only), follow it, take the outputs out with
``docker compose cp``. Also checked: the Redis password comes from the env file and is
required, Redis keeps the run across a restart (AOF on its volume), Flower sees the
workers' tasks, and ``down -v`` leaves no container or volume of the project behind.
The env file only swaps in the local images (no registry here) and free host ports.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatcher.state import StateStore
from tests.helpers import free_port, require
from tests.integration.deploy_support import (
    IMAGE,
    REDIS_IMAGE,
    ROOT,
    counters,
    docker_ready,
    example_spec,
    expected_run,
    image_present,
    read_docs,
    wait_until,
    write_inputs,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"


def compose_available() -> bool:
    if not docker_ready():
        return False
    out = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return out.returncode == 0


class Stack:
    """One compose project of the real compose file, with its own env file."""

    def __init__(self, env_file: Path, project: str) -> None:
        self.base = ["docker", "compose", "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
        self.base += ["-p", project]
        self.project = project

    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
        if check and out.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)}: {out.stdout}\n{out.stderr}")
        return out

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.project}"
        found: dict[str, list[str]] = {}
        for kind in ("container", "volume", "network"):
            cmd = ["docker", kind, "ls", "-q", "--filter", label]
            if kind == "container":
                cmd.insert(3, "-a")
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            found[kind] = out.stdout.split()
        return found


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Stack, dict[str, Any]]]:
    require(
        compose_available(), "no Docker engine with the compose plugin (scripts/setup/docker.sh)"
    )
    for image in (IMAGE, REDIS_IMAGE):
        require(image_present(image), f"image {image} not built (run scripts/setup/images.sh)")
    settings: dict[str, Any] = {
        "REDIS_PASSWORD": secrets.token_hex(16),
        "SHARDYARD_WORKERS": 2,
        "REDIS_PORT": free_port(),
        "FLOWER_PORT": free_port(),
        "FLOWER_BASIC_AUTH": f"sy:{secrets.token_hex(8)}",
        "SHARDYARD_IMAGE": IMAGE,
        "SHARDYARD_PULL_POLICY": "never",
        "REDIS_IMAGE": REDIS_IMAGE,
        "REDIS_PULL_POLICY": "never",
    }
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    project = f"sy-it-{secrets.token_hex(3)}"
    deployed = Stack(env_file, project)
    try:
        yield deployed, settings
    finally:
        down = deployed.run("down", "-v", "--timeout", "20", timeout=180, check=False)
        assert down.returncode == 0, down.stderr
        assert deployed.leftovers() == {"container": [], "volume": [], "network": []}


def http_json(url: str, login: str | None = None) -> Any:
    request = urllib.request.Request(url)
    if login:
        request.add_header("Authorization", "Basic " + base64.b64encode(login.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read().decode())


def test_compose_up_run_the_example_down(
    tmp_path: Path, stack: tuple[Stack, dict[str, Any]]
) -> None:
    deployed, settings = stack
    deployed.run("up", "-d", "--wait", "--wait-timeout", "240", timeout=400)
    states = deployed.run("ps", "--format", "{{.Service}} {{.State}} {{.Health}}").stdout.split(
        "\n"
    )
    services = sorted(line.split()[0] for line in states if line.strip())
    assert services == ["flower", "redis", "worker", "worker"], states
    assert all(" running" in line for line in states if line.strip()), states

    # the README's steps: inputs into the volume, submit through the cli service
    host_data = tmp_path / "host"
    documents = write_inputs(host_data)
    deployed.run("exec", "-T", "worker", "mkdir", "-p", "data/quickstart")
    # --index 1: without it compose copies into every replica (one volume: "file exists")
    deployed.run("cp", "--index", "1", str(host_data / "in"), "worker:/data/data/quickstart/in")
    submitted = deployed.run("run", "--rm", "-T", "cli", "submit", "examples/quickstart.yaml")
    assert "quickstart: stage filter: 4 shard(s) enqueued" in submitted.stdout, submitted.stdout

    url = f"redis://:{settings['REDIS_PASSWORD']}@127.0.0.1:{settings['REDIS_PORT']}/0"
    store = StateStore.from_url(url)
    try:
        wait_until(lambda: store.status("quickstart")["complete"], 300, "the run", every=1.0)
    except AssertionError as err:
        logs = deployed.run("logs", "--no-color", "--tail", "60", check=False).stdout
        raise AssertionError(f"{err}\n{logs}") from None
    status = deployed.run("run", "--rm", "-T", "cli", "status", "quickstart", "--json")
    assert json.loads(status.stdout) == {
        "complete": True,
        "stages": [{"name": "filter", "tasks": 4, "done": 4, "failed": 0, "running": 0}],
    }

    # outputs out of the volume, compared with the same pipeline run in this process
    def stats_written() -> bool:  # by the worker that completed the last rank
        probe = ("exec", "-T", "worker", "test", "-f", "logs/quickstart/stats.json")
        return deployed.run(*probe, check=False).returncode == 0

    wait_until(stats_written, 60, "logs/quickstart/stats.json in the data volume")
    got = tmp_path / "got"
    got.mkdir()
    for folder in ("data/quickstart/out", "data/quickstart/removed", "logs/quickstart"):
        deployed.run("cp", "--index", "1", f"worker:/data/{folder}", str(got / Path(folder).name))
    spec = example_spec(str(host_data))
    expected = expected_run(spec, str(host_data), tmp_path / "expected")
    assert read_docs(got / "out") == expected["out"]
    assert read_docs(got / "removed") == expected["removed"]
    stats = json.loads((got / "quickstart" / "stats.json").read_text())
    assert counters(stats) == counters(expected["stats"])
    assert counters(stats)["JsonlReader.documents"][1] == str(documents)

    # Flower, behind its login, saw the shard tasks through the workers' events
    flower = f"http://127.0.0.1:{settings['FLOWER_PORT']}"
    with pytest.raises(urllib.error.HTTPError) as refused_login:
        http_json(f"{flower}/api/tasks")
    assert refused_login.value.code == 401

    def tasks_seen() -> list[dict[str, Any]]:
        tasks = http_json(f"{flower}/api/tasks", settings["FLOWER_BASIC_AUTH"])
        return [t for t in tasks.values() if t.get("name") == "shardyard.run_shard"]

    def all_succeeded() -> list[dict[str, Any]] | None:
        seen = tasks_seen()
        return seen if len(seen) >= 4 and all(t["state"] == "SUCCESS" for t in seen) else None

    assert len(wait_until(all_succeeded, 60, "Flower to list the 4 shard tasks")) == 4

    # Redis keeps the run across a restart: AOF on the redis-data volume
    deployed.run("restart", "redis")
    deployed.run("up", "-d", "--wait", "--wait-timeout", "120", "redis")
    assert store.status("quickstart")["complete"]

    # without a password the compose file refuses to start
    no_password = tmp_path / "nopass.env"
    no_password.write_text("REDIS_IMAGE=x\n")
    refused = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "--env-file", str(no_password), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert refused.returncode != 0 and "REDIS_PASSWORD" in refused.stderr
