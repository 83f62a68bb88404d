"""``shardyard slurm`` without a cluster: options, array splitting, the rendered scripts.

The scripts are checked with ``bash -n`` and then really run by bash against fake
``python``/``shardyard``/``squeue`` programs (a fake venv), which shows what Slurm would
see: the worker restarts only while shards run elsewhere, a SIGTERM/SIGUSR1 reaches the
worker and ends the element, the Redis job's watchdog stops Redis when its worker jobs
are gone. ``launch`` runs against a fake Slurm and fakeredis.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from blocks.spec import PipelineSpec
from dispatcher.cli import main
from dispatcher.errors import InsecureRedisError, RunNotFoundError
from dispatcher.executors.slurm import (
    LAUNCH_SCRIPT,
    Slurm,
    SlurmConfigError,
    SlurmError,
    SlurmOptions,
    array_chunks,
    group_sbatch_args,
    keep_working,
    launch,
    render_redis_script,
    render_worker_script,
    time_limit_seconds,
)
from dispatcher.state import StateStore
from dispatcher.submit import submit_run

URL = "redis://:s3cret-pass@10.0.0.5:6379/0"


def options(tmp_path: Path, **kw: Any) -> SlurmOptions:
    base: dict[str, Any] = {
        "workers": 3,
        "time": "1:00:00",
        "logging_dir": str(tmp_path / "logs"),
        "workdir": str(tmp_path),
        "job_name": "sy-test",
        "partition": "debug",
    }
    base.update(kw)
    return SlurmOptions(**base)


# -- options ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 1800),
        ("30:15", 1815),
        ("2:00:00", 7200),
        ("1-0", 86400),
        ("1-2:30", 95400),
        ("0-0:0:5", 5),
        ("UNLIMITED", None),
    ],
)
def test_time_limit_formats(value: str, seconds: int | None) -> None:
    assert time_limit_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "1h", "1:2:3:4", "-5", "0", "0:00:00", "2 hours"])
def test_bad_time_limits_are_refused(value: str) -> None:
    with pytest.raises(SlurmConfigError):
        time_limit_seconds(value)


def test_array_chunks_split_at_max_array_size() -> None:
    assert array_chunks(2500, 1001) == [1001, 1001, 498]
    assert array_chunks(1001, 1001) == [1001]
    assert array_chunks(1002, 1001) == [1001, 1]
    assert array_chunks(1, 1001) == [1]
    assert array_chunks(5, 2) == [2, 2, 1]
    assert sum(array_chunks(12345, 1000)) == 12345
    with pytest.raises(SlurmConfigError):
        array_chunks(0, 10)


def test_sbatch_args_become_one_directive_per_option() -> None:
    assert group_sbatch_args("--account=proj --constraint 'cpu&fast' -x n1,n2 --exclusive") == [
        "--account=proj",
        "--constraint 'cpu&fast'",
        "-x n1,n2",
        "--exclusive",
    ]
    with pytest.raises(SlurmConfigError):
        group_sbatch_args("account=proj")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workers": 0}, "--workers"),
        ({"cpus_per_task": 0}, "--cpus-per-task"),
        ({"mem_per_cpu_gb": 0.0}, "--mem-per-cpu-gb"),
        ({"max_array_size": 0}, "--max-array-size"),
        ({"time": "soon"}, "--time"),
        ({"partition": "debug; rm -rf /"}, "--partition"),
        ({"qos": "a b"}, "--qos"),
        ({"venv_path": "/v", "condaenv": "c"}, "not both"),
        ({"image": "/x.sif", "venv_path": "/v"}, "--image"),
        ({"logging_dir": "s3://bucket/logs"}, "share"),
        ({"binds": ("/a,/b",)}, "--bind"),
        ({"exit_when_idle": 0.0}, "--exit-when-idle"),
        ({"sbatch_args": ("oops",)}, "--sbatch-args"),
        ({"apptainer": " "}, "--apptainer"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(SlurmConfigError, match=message.replace("-", "\\-")):
        options(tmp_path, **change).validate()


# -- the rendered scripts -----------------------------------------------------------------
def bash_syntax_ok(script: str, tmp_path: Path) -> None:
    path = tmp_path / "check.sh"
    path.write_text(script)
    out = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def directives(script: str) -> list[str]:
    return [line[len("#SBATCH ") :] for line in script.splitlines() if line.startswith("#SBATCH ")]


def test_worker_script_in_the_image(tmp_path: Path) -> None:
    opts = options(
        tmp_path,
        cpus_per_task=4,
        mem_per_cpu_gb=1.5,
        qos="high",
        image="/images/shardyard.sif",
        binds=("/scratch", "/data:/mnt/data:ro"),
        sbatch_args=("--account=proj", "--constraint", "cpu"),
        env_command="module load apptainer",
        plugins=("my.blocks",),
        exit_when_idle=45,
    ).resolved()
    script = render_worker_script(
        opts, run_id="news-1", url_file=str(tmp_path / "u"), chunks=[1001, 1001, 3]
    )
    bash_syntax_ok(script, tmp_path)
    logs = tmp_path / "logs"
    assert directives(script) == [
        "--job-name=sy-test",
        "--partition=debug",
        "--time=1:00:00",
        "--cpus-per-task=4",
        "--mem-per-cpu=1536M",
        f"--output={logs}/slurm/logs/worker_%A_%a.out",
        "--qos=high",
        "--open-mode=append",
        f"--chdir={tmp_path}",
        "--requeue",
        "--signal=B:USR1@90",
        "--account=proj",
        "--constraint cpu",
        "--array=0-1000",
    ]
    assert script.startswith("#!/bin/bash\n")
    assert "module load apptainer" in script
    assert (
        f"SY_RUN=(apptainer exec --bind {logs},/scratch,/data:/mnt/data:ro /images/shardyard.sif)"
        in script
    )
    assert "python -m worker --queue shardyard --concurrency 4" in script
    assert "--exit-when-idle 45 " in script and "--plugins my.blocks" in script
    assert "shardyard slurm-continue news-1" in script
    assert "#   sbatch --array=0-2 " in script  # the last of the three arrays
    assert "activate" not in script
    nv = render_worker_script(
        options(tmp_path, image="/i.sif", apptainer="singularity --nv"),
        run_id="r",
        url_file="/u",
        chunks=[1],
    )
    assert f"SY_RUN=(singularity --nv exec --bind {logs} /i.sif)" in nv


def test_worker_script_in_a_venv_or_conda_and_short_time_limits(tmp_path: Path) -> None:
    venv = options(tmp_path, venv_path="/opt/my venv", time="4").resolved()
    script = render_worker_script(venv, run_id="r", url_file="/u", chunks=[2])
    bash_syntax_ok(script, tmp_path)
    assert "source '/opt/my venv'/bin/activate" in script and "SY_RUN=()" in script
    assert "--signal=B:USR1@60" in script  # a quarter of 4 minutes, not 90 s
    assert "--mem-per-cpu" not in script and "--qos" not in script
    conda = options(tmp_path, condaenv="sy-env", partition=None, time="0:30").resolved()
    script = render_worker_script(conda, run_id="r", url_file="/u", chunks=[1])
    bash_syntax_ok(script, tmp_path)
    assert 'eval "$(conda shell.bash hook)"' in script and "conda activate sy-env" in script
    assert "--partition" not in script and "--signal" not in script  # 30 s: no room for a warning


def test_redis_script(tmp_path: Path) -> None:
    opts = options(
        tmp_path,
        image="/i.sif",
        redis_dir=str(tmp_path / "logs" / "slurm" / "redis"),
        redis_mem_gb=4,
        redis_time="2-0",
    ).resolved()
    script = render_redis_script(opts)
    bash_syntax_ok(script, tmp_path)
    d = directives(script)
    assert "--job-name=sy-test-redis" in d and "--time=2-0" in d and "--mem=4096M" in d
    assert "--cpus-per-task=1" in d and not any(x.startswith("--array") for x in d)
    # the redis dir sits inside the logging dir: one bind covers both
    assert f"--bind {tmp_path / 'logs'} /i.sif" in script
    assert "shardyard slurm-redis --dir" in script


# -- the scripts, run by bash against fakes -------------------------------------------------
FAKE_PYTHON = """#!/bin/bash
# fake `python -m worker ...`: logs its argv and the Redis URL it got, then does $FAKE/mode
echo "start $* url=$SHARDYARD_REDIS_URL" >>"$FAKE/log"
trap 'echo "term" >>"$FAKE/log"; exit 0' TERM
case "$(cat "$FAKE/mode")" in
  busy) : >"$FAKE/started"; while :; do sleep 0.05; done ;;
  fail) exit 3 ;;
esac
exit 0
"""

FAKE_SHARDYARD = """#!/bin/bash
# fake `shardyard slurm-continue RUN` (answers 0 $FAKE/continues times, then 1) and
# `shardyard slurm-redis --dir D` (serves until SIGTERM)
echo "$*" >>"$FAKE/log"
if [ "$1" = slurm-redis ]; then
  trap 'echo "redis-term" >>"$FAKE/log"; exit 0' TERM
  : >"$FAKE/started"
  while :; do sleep 0.05; done
fi
n="$(cat "$FAKE/continues")"
if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$FAKE/continues"; exit 0; fi
exit 1
"""

FAKE_SQUEUE = """#!/bin/bash
# fake `squeue -h -j ID -o %T`: jobs listed in $FAKE/dead are unknown to Slurm
if grep -qx "$3" "$FAKE/dead" 2>/dev/null; then
  echo "slurm_load_jobs error: Invalid job id specified" >&2
  exit 1
fi
echo RUNNING
"""


@pytest.fixture
def fake_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    fake = tmp_path / "fake"
    bin_dir = fake / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (
        ("python", FAKE_PYTHON),
        ("shardyard", FAKE_SHARDYARD),
        ("squeue", FAKE_SQUEUE),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (bin_dir / "activate").write_text(f'export PATH="{bin_dir}:$PATH"\n')
    (fake / "mode").write_text("idle")
    (fake / "continues").write_text("0")
    (fake / "url").write_text(URL)
    env = {
        "PATH": os.environ["PATH"],
        "FAKE": str(fake),
        "SLURM_ARRAY_JOB_ID": "77",
        "SLURM_ARRAY_TASK_ID": "3",
    }
    return fake, env


def write_script(tmp_path: Path, fake: Path, **kw: Any) -> Path:
    opts = options(
        tmp_path, venv_path=str(fake / "venv"), queue="q", concurrency=2, exit_when_idle=5, **kw
    )
    path = tmp_path / "element.sh"
    path.write_text(
        render_worker_script(opts, run_id="run-1", url_file=str(fake / "url"), chunks=[1])
    )
    return path


def log_lines(fake: Path) -> list[str]:
    return (fake / "log").read_text().splitlines()


def test_element_restarts_its_worker_only_while_shards_run_elsewhere(
    tmp_path: Path, fake_env: tuple[Path, dict[str, str]]
) -> None:
    fake, env = fake_env
    (fake / "continues").write_text("1")
    script = write_script(tmp_path, fake, plugins=("p1",))
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    lines = log_lines(fake)
    assert [line.split()[0] for line in lines] == ["start", "slurm-continue"] * 2
    assert lines[0] == (
        "start -m worker --queue q --concurrency 2 --exit-when-idle 5 "
        f"--hostname sy-77_3@%h --plugins p1 url={URL}"
    )
    assert lines[1] == "slurm-continue run-1"
    assert "worker again" in out.stdout
    assert URL not in script.read_text()  # the password lives in the URL file only


def test_element_stops_when_the_worker_fails(
    tmp_path: Path, fake_env: tuple[Path, dict[str, str]]
) -> None:
    fake, env = fake_env
    (fake / "mode").write_text("fail")
    (fake / "continues").write_text("5")
    script = write_script(tmp_path, fake)
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=20)
    assert out.returncode == 3
    assert [line.split()[0] for line in log_lines(fake)] == ["start"]
    assert "worker exited with status 3" in out.stderr


def wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_a_signal_to_the_element_reaches_the_worker_and_ends_the_element(
    tmp_path: Path, fake_env: tuple[Path, dict[str, str]], sig: signal.Signals
) -> None:
    """`--signal=B:USR1@N` (time limit near) and a SIGTERM to the batch shell only: the
    worker must get SIGTERM (its shard goes back) and the element must not start it again."""
    fake, env = fake_env
    (fake / "mode").write_text("busy")
    (fake / "continues").write_text("5")
    script = write_script(tmp_path, fake)
    proc = subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(fake / "started")
        proc.send_signal(sig)
        stdout, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert log_lines(fake)[1:] == ["term"]
    assert "stopped by a signal" in stdout


def test_redis_job_stops_redis_when_its_worker_jobs_are_gone(
    tmp_path: Path, fake_env: tuple[Path, dict[str, str]]
) -> None:
    fake, env = fake_env
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    (redis_dir / "clients").write_text("100\n101\n")
    opts = options(tmp_path, venv_path=str(fake / "venv"), redis_dir=str(redis_dir))
    script = tmp_path / "redis.sh"
    script.write_text(render_redis_script(opts, poll=0.2))
    proc = subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(fake / "started")
        time.sleep(0.6)  # watchdog rounds with both jobs alive: Redis stays up
        assert proc.poll() is None and "redis-term" not in log_lines(fake)
        (fake / "dead").write_text("100\n")
        time.sleep(0.6)  # one gone, one left: still up
        assert proc.poll() is None
        (fake / "dead").write_text("100\n101\n")
        stdout, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert log_lines(fake) == [f"slurm-redis --dir {redis_dir}", "redis-term"]
    assert "no worker job left" in stdout


# -- launch against a fake Slurm and fakeredis ------------------------------------------------
class FakeSlurm(Slurm):
    def __init__(self, alive: Sequence[str] = (), max_size: int = 1001) -> None:
        self.calls: list[list[str]] = []
        self.cancelled: list[str] = []
        self.alive_jobs = set(alive)
        self.max_size = max_size
        self.next_id = 500

    def sbatch(self, args: Sequence[str]) -> str:
        self.calls.append(list(args))
        self.next_id += 1
        self.alive_jobs.add(str(self.next_id))
        return str(self.next_id)

    def states(self, job_id: str) -> list[str] | None:
        return ["RUNNING"] if job_id in self.alive_jobs else []

    def scancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    def max_array_size(self) -> int:
        return self.max_size


@pytest.fixture
def store() -> StateStore:
    import fakeredis

    return StateStore(fakeredis.FakeRedis(decode_responses=True))


def jsonl_spec(tmp_path: Path, name: str, tasks: int = 3) -> PipelineSpec:
    folder = tmp_path / f"in-{name}"
    folder.mkdir()
    for i in range(tasks):
        (folder / f"{i}.jsonl").write_text(json.dumps({"text": f"doc {i}", "id": str(i)}) + "\n")
    return PipelineSpec.from_dict(
        {
            "name": name,
            "stages": [
                {
                    "name": "copy",
                    "tasks": tasks,
                    "pipeline": [
                        {"JsonlReader": {"data_folder": str(folder)}},
                        {"JsonlWriter": {"output_folder": str(tmp_path / f"out-{name}")}},
                    ],
                }
            ],
        }
    )


def test_launch_enqueues_then_submits_split_arrays(tmp_path: Path, store: StateStore) -> None:
    sent: list[tuple[str, str]] = []
    slurm = FakeSlurm(max_size=2)
    opts = options(tmp_path, workers=5, max_array_size=None)
    result = launch(
        jsonl_spec(tmp_path, "first"),
        opts,
        redis_url=URL,
        slurm=slurm,
        store=store,
        send=lambda q, m: sent.append((q, m)),
        log=lambda _line: None,
    )
    script = tmp_path / "logs" / LAUNCH_SCRIPT
    assert result.script == script and script.stat().st_mode & 0o777 == 0o755
    assert [c[0] for c in slurm.calls] == ["--array=0-1", "--array=0-1", "--array=0-0"]
    assert all(c[-1] == str(script) for c in slurm.calls)
    assert result.array_jobs == ["501", "502", "503"]
    assert len(sent) == 3 and {q for q, _ in sent} == {"shardyard"}
    assert result.submitted is not None and result.submitted.enqueued == 3
    url_file = tmp_path / "logs" / "slurm" / "redis.url"
    assert url_file.read_text() == URL and stat.S_IMODE(url_file.stat().st_mode) == 0o600
    assert URL not in script.read_text() and str(url_file) in script.read_text()
    jobs = json.loads((tmp_path / "logs" / "slurm" / "jobs.json").read_text())
    assert jobs["launches"][0]["arrays"] == ["501", "502", "503"]
    assert jobs["launches"][0]["array_sizes"] == [2, 2, 1]
    assert store.get_run("first").options["logging_dir"] == str(tmp_path / "logs")  # type: ignore[union-attr]

    # a run depending on the first: its arrays wait for the first's live arrays
    slurm.alive_jobs.discard("503")
    second = launch(
        jsonl_spec(tmp_path, "second"),
        options(tmp_path / "second", workers=1),
        redis_url=URL,
        depends=["first"],
        slurm=slurm,
        store=store,
        send=lambda q, m: sent.append((q, m)),
        log=lambda _line: None,
    )
    assert second.submitted is not None and second.submitted.waiting_for == ("first",)
    assert slurm.calls[-1][0] == "--dependency=afterany:501:502"
    assert len(sent) == 3  # nothing of the second run is enqueued before the first completes


def test_launch_of_a_complete_run_submits_nothing(tmp_path: Path, store: StateStore) -> None:
    spec = jsonl_spec(tmp_path, "done", tasks=1)
    submit_run(store, spec, send=lambda q, m: None)
    claim = store.claim("done", "copy", 0, "w", 60)
    assert claim.token is not None
    store.complete("done", "copy", 0, claim.token, "{}")
    slurm = FakeSlurm()
    result = launch(
        spec, options(tmp_path), redis_url=URL, slurm=slurm, store=store,
        send=lambda q, m: None, log=lambda _line: None,
    )  # fmt: skip
    assert result.submitted is not None and result.submitted.complete
    assert slurm.calls == [] and result.array_jobs == []


def test_launch_refuses_bad_redis_choices(tmp_path: Path) -> None:
    spec = jsonl_spec(tmp_path, "x")
    with pytest.raises(SlurmConfigError, match="--start-redis"):
        launch(spec, options(tmp_path), slurm=FakeSlurm())
    with pytest.raises(InsecureRedisError, match="passwordless"):
        launch(spec, options(tmp_path), redis_url="redis://10.1.1.1:6379/0", slurm=FakeSlurm())
    with pytest.raises(SlurmConfigError, match="no such file"):
        launch(
            spec, options(tmp_path, image=str(tmp_path / "absent.sif")), redis_url=URL,
            slurm=FakeSlurm(),
        )  # fmt: skip


def test_a_redis_job_started_for_a_failed_launch_is_cancelled(
    tmp_path: Path, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dispatcher.executors.slurm as slurm_module

    class RefusingSlurm(FakeSlurm):
        def sbatch(self, args: Sequence[str]) -> str:
            raise SlurmError("sbatch: error: invalid partition")

    monkeypatch.setattr(
        slurm_module, "ensure_redis", lambda *a, **k: (URL, "900", True)
    )  # the Redis job is up
    slurm: FakeSlurm = RefusingSlurm()
    with pytest.raises(SlurmError, match="invalid partition"):
        launch(
            jsonl_spec(tmp_path, "refused"), options(tmp_path), start_redis=True, slurm=slurm,
            store=store, send=lambda q, m: None, log=lambda _line: None,
        )  # fmt: skip
    assert slurm.cancelled == ["900"]
    # a spec the store refuses (unknown dependency) cancels it as well
    slurm = FakeSlurm()
    with pytest.raises(RunNotFoundError):
        launch(
            jsonl_spec(tmp_path, "orphan"), options(tmp_path), start_redis=True,
            depends=["missing"], slurm=slurm, store=store, send=lambda q, m: None,
            log=lambda _line: None,
        )  # fmt: skip
    assert slurm.cancelled == ["900"] and slurm.calls == []


def test_keep_working_follows_running_shards(store: StateStore, tmp_path: Path) -> None:
    spec = jsonl_spec(tmp_path, "k", tasks=2)
    submit_run(store, spec, send=lambda q, m: None)
    assert not keep_working(store, "k")  # queued only: the worker's idle check covers that
    first = store.claim("k", "copy", 0, "w1", 60)
    assert keep_working(store, "k")  # a shard runs elsewhere
    assert first.token is not None
    store.complete("k", "copy", 0, first.token, "{}")
    assert not keep_working(store, "k")
    second = store.claim("k", "copy", 1, "w2", 60)
    store.cancel("k")
    assert not keep_working(store, "k")
    store.uncancel("k")
    assert second.token is not None
    store.complete("k", "copy", 1, second.token, "{}")
    assert not keep_working(store, "k")  # complete

    # waiting for a dependency that still runs: keep going
    dep = jsonl_spec(tmp_path, "dep", tasks=1)
    submit_run(store, dep, send=lambda q, m: None)
    waiter = jsonl_spec(tmp_path, "waiter", tasks=1)
    submit_run(store, waiter, send=lambda q, m: None, depends=["dep"])
    assert not keep_working(store, "waiter")
    store.claim("dep", "copy", 0, "w3", 60)
    assert keep_working(store, "waiter")


# -- the command line -----------------------------------------------------------------------
def test_cli_dry_run_writes_the_scripts_and_prints_the_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHARDYARD_REDIS_URL", raising=False)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(jsonl_spec(tmp_path, "cli").to_json()))
    result = CliRunner().invoke(
        main,
        [
            "slurm", str(spec_file), "--workers", "2500", "--partition", "debug",
            "--time", "30", "--image", "shardyard.sif", "--start-redis", "--dry-run",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    script = tmp_path / "logs" / "cli" / LAUNCH_SCRIPT
    assert f"launch script: {script}" in result.output
    assert result.output.count("would run: sbatch --array=0-1000 ") == 2
    assert "would run: sbatch --array=0-497 " in result.output
    text = script.read_text()
    assert f"--bind {tmp_path / 'logs' / 'cli'} {tmp_path / 'shardyard.sif'}" in text
    assert f"SY_URL_FILE={tmp_path / 'logs' / 'cli' / 'slurm' / 'redis' / 'url'}" in text
    assert (tmp_path / "logs" / "cli" / "slurm" / "redis.slurm").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--redis", URL, "--start-redis"], "not both"),
        ([], "--start-redis"),
        (["--start-redis", "--image", "x.sif", "--venv-path", "v"], "--image"),
        (["--start-redis", "--time", "forever"], "--time"),
        (["--start-redis", "--workers", "0"], "--workers"),
    ],
)
def test_cli_refuses_bad_options_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHARDYARD_REDIS_URL", raising=False)
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(jsonl_spec(tmp_path, "bad").to_json()))
    args = ["slurm", str(spec_file), "--workers", "2", "--time", "10", "--dry-run"]
    if "--workers" in extra:
        args = ["slurm", str(spec_file), "--time", "10", "--dry-run"]
    if "--time" in extra:
        args = ["slurm", str(spec_file), "--workers", "2", "--dry-run"]
    result = CliRunner().invoke(main, [*args, *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "logs" / "bad" / "slurm" / "jobs.json").exists()
