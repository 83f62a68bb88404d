"""``shardyard slurm``: enqueue a run and submit Slurm arrays of workers.

Two helper commands run inside the jobs it submits (hidden from ``--help``):
``slurm-redis`` serves Redis in the Redis job, ``slurm-continue`` tells an idle array
element whether to start its worker again. The library is
:mod:`dispatcher.executors.slurm`; this module only parses options.

Registered on the main group by :func:`register` (called at the end of
:mod:`dispatcher.cli`). Only click is imported at module level, like the rest of the CLI;
the helpers of :mod:`dispatcher.cli` are imported inside the commands because that module
imports this one.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence

import click

EXAMPLE = """\b
Example:
  shardyard slurm spec.yaml --workers 64 --partition cpu --time 4:00:00 \\
      --cpus-per-task 4 --mem-per-cpu-gb 2 --image shardyard.sif --start-redis
  shardyard slurm spec.yaml --workers 2000 --time 1:00:00 --venv-path ~/venvs/sy \\
      --redis redis://:PASS@login1:6379/0 --sbatch-args "--account=proj"
"""


@click.command("slurm", epilog=EXAMPLE)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--workers", type=int, required=True, help="Array elements (one worker each).")
@click.option("--partition", default=None, help="Slurm partition (default: the cluster's).")
@click.option("--time", "time_limit", required=True, help="Time limit per element, e.g. 4:00:00.")
@click.option("--cpus-per-task", type=int, default=1, show_default=True, help="CPUs per element.")
@click.option("--mem-per-cpu-gb", type=float, default=None, help="Memory per CPU in GB.")
@click.option("--qos", default=None, help="Slurm QOS.")
@click.option(
    "--sbatch-args", default="", help='More sbatch options, e.g. "--account=proj --exclusive".'
)
@click.option(
    "--max-array-size",
    type=int,
    default=None,
    help="Split into arrays of at most this many (default: the cluster's MaxArraySize).",
)
@click.option("--env-command", default=None, help="Shell run first in each job (module load...).")
@click.option("--venv-path", default=None, help="Run the workers in this virtualenv.")
@click.option("--condaenv", default=None, help="Run the workers in this conda environment.")
@click.option("--image", default=None, help="Run the workers in this Apptainer image (.sif).")
@click.option("--bind", "binds", multiple=True, help="Extra Apptainer bind SRC[:DST] (repeat).")
@click.option(
    "--apptainer",
    "apptainer_cmd",
    default="apptainer",
    show_default=True,
    help='Apptainer command, e.g. singularity or "apptainer --nv".',
)
@click.option(
    "--redis", "redis_url", default=None, help="Redis of the run (default: SHARDYARD_REDIS_URL)."
)
@click.option("--start-redis", is_flag=True, help="Run Redis itself as a Slurm job.")
@click.option(
    "--redis-dir",
    default=None,
    help="Data dir of the --start-redis job (default: LOGGING_DIR/slurm/redis).",
)
@click.option("--redis-mem-gb", type=float, default=None, help="Memory of the Redis job in GB.")
@click.option("--redis-time", default=None, help="Time limit of the Redis job (default: --time).")
@click.option(
    "--redis-timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds to wait for the Redis job to answer.",
)
@click.option("--depends", multiple=True, help="Run id that must complete first (repeatable).")
@click.option("--run-id", default=None, help="Run id (default: the spec's name).")
@click.option(
    "--logging-dir",
    default=None,
    help="Scripts, Slurm logs, stats (default: the spec's, else logs/RUN).",
)
@click.option("--tasks", type=int, default=None, help="Tasks of the first stage (round_robin).")
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Shards run at once per element (default: --cpus-per-task).",
)
@click.option(
    "--exit-when-idle",
    type=float,
    default=60.0,
    show_default=True,
    help="An element's worker stops after this many idle seconds.",
)
@click.option("--job-name", default=None, help="Slurm job name (default: sy-RUN).")
@click.option("--queue", default=None, help="Celery queue (default: SHARDYARD_QUEUE or shardyard).")
@click.option("--plugins", default=None, help="Comma-separated modules registering blocks.")
@click.option("--force", is_flag=True, help="Replace a different stored spec, starting over.")
@click.option("--insecure", is_flag=True, help="Allow a passwordless non-loopback Redis.")
@click.option(
    "--dry-run", is_flag=True, help="Write the scripts and print the sbatch commands only."
)
def slurm(
    spec: str,
    workers: int,
    partition: str | None,
    time_limit: str,
    cpus_per_task: int,
    mem_per_cpu_gb: float | None,
    qos: str | None,
    sbatch_args: str,
    max_array_size: int | None,
    env_command: str | None,
    venv_path: str | None,
    condaenv: str | None,
    image: str | None,
    binds: Sequence[str],
    apptainer_cmd: str,
    redis_url: str | None,
    start_redis: bool,
    redis_dir: str | None,
    redis_mem_gb: float | None,
    redis_time: str | None,
    redis_timeout: float,
    depends: Sequence[str],
    run_id: str | None,
    logging_dir: str | None,
    tasks: int | None,
    concurrency: int | None,
    exit_when_idle: float,
    job_name: str | None,
    queue: str | None,
    plugins: str | None,
    force: bool,
    insecure: bool,
    dry_run: bool,
) -> None:
    """Enqueue a run and submit sbatch arrays whose elements each run a worker.

    Workers run in the Apptainer image (--image) or a venv/conda env, pull shards from
    Redis and stop after --exit-when-idle seconds without work. Redis is --redis URL, or
    a Slurm job of its own (--start-redis) that stops when the workers are gone.
    LOGGING_DIR gets launch_script.slurm (resubmit it for more workers), slurm/logs/ and
    slurm/jobs.json. A preempted, cancelled or requeued element gives its shard back.
    """
    from dispatcher.cli import _load_spec, _settings
    from dispatcher.executors.slurm import SlurmConfigError, SlurmOptions, launch
    from dispatcher.settings import split_modules
    from dispatcher.state import check_run_id

    settings = _settings()
    pipeline = _load_spec(spec, tasks, plugins)  # a bad spec exits 2 before anything runs
    rid = check_run_id(run_id or pipeline.name)
    url = None if start_redis else (redis_url or settings.redis_url)
    if start_redis and redis_url:
        raise SlurmConfigError("give --redis URL or --start-redis, not both")
    options = SlurmOptions(
        workers=workers,
        time=time_limit,
        logging_dir=logging_dir or pipeline.logging_dir or os.path.join("logs", rid),
        workdir=os.getcwd(),
        job_name=job_name or f"sy-{rid}",
        partition=partition,
        cpus_per_task=cpus_per_task,
        mem_per_cpu_gb=mem_per_cpu_gb,
        qos=qos,
        sbatch_args=tuple(shlex.split(sbatch_args)),
        max_array_size=max_array_size,
        env_command=env_command,
        venv_path=venv_path,
        condaenv=condaenv,
        image=image,
        binds=tuple(binds),
        apptainer=apptainer_cmd,
        concurrency=concurrency,
        exit_when_idle=exit_when_idle,
        queue=queue or settings.queue,
        plugins=(*settings.plugins, *split_modules(plugins)),
        redis_dir=redis_dir,
        redis_mem_gb=redis_mem_gb,
        redis_time=redis_time,
    )
    result = launch(
        pipeline,
        options,
        run_id=rid,
        redis_url=url,
        start_redis=start_redis,
        depends=depends,
        force=force,
        insecure=insecure or settings.insecure,
        dry_run=dry_run,
        redis_timeout=redis_timeout,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(f"launch script: {result.script}")
    if dry_run:
        for command in result.sbatch_commands:
            click.echo("would run: sbatch " + " ".join(command))
        return
    sub = result.submitted
    if sub is not None and sub.complete:
        click.echo(f"{rid}: already complete")
        return
    if sub is not None and sub.waiting_for:
        click.echo(f"{rid}: waiting for {', '.join(sub.waiting_for)}")
    elif sub is not None:
        click.echo(f"{rid}: stage {sub.stage}: {sub.enqueued} shard(s) enqueued")
    if result.redis_job:
        how = "started" if result.redis_started else "reused"
        click.echo(f"redis: job {result.redis_job} ({how}), URL in {result.url_file}")
    for job, command in zip(result.array_jobs, result.sbatch_commands, strict=False):
        click.echo(f"workers: job {job} ({command[0]})")
    click.echo(f'follow: shardyard status {rid} --redis "$(cat {result.url_file})"')


@click.command(
    "slurm-redis",
    hidden=True,
    epilog="\b\nExample:\n  shardyard slurm-redis --dir logs/run/slurm/redis",
)
@click.option("--dir", "redis_dir", required=True, help="Data dir holding the password file.")
@click.option("--host", default=None, help="Host name put in the URL (default: this node's).")
@click.option("--port", type=int, default=0, help="Port (default: a free one).")
def slurm_redis(redis_dir: str, host: str | None, port: int) -> None:
    """Serve Redis inside a `shardyard slurm --start-redis` job (writes DIR/url when ready)."""
    from dispatcher.executors.slurm import serve_redis

    code = serve_redis(
        redis_dir, host=host, port=port, ready=lambda _url: click.echo("redis ready", err=True)
    )
    sys.exit(0 if code in (0, -15) else code)


@click.command(
    "slurm-continue",
    hidden=True,
    epilog="\b\nExample:\n  shardyard slurm-continue news-2024 || echo done",
)
@click.argument("run_id")
@click.option(
    "--redis", "redis_url", default=None, help="Redis URL (default: SHARDYARD_REDIS_URL)."
)
@click.option("--insecure", is_flag=True, help="Allow a passwordless non-loopback Redis.")
def slurm_continue(run_id: str, redis_url: str | None, insecure: bool) -> None:
    """Exit 0 while shards of RUN_ID still run (an idle element restarts its worker), else 1."""
    from dispatcher.cli import open_store
    from dispatcher.executors.slurm import keep_working

    with open_store(redis_url, None, insecure) as (store, _url):
        more = keep_working(store, run_id)
    sys.exit(0 if more else 1)


def register(group: click.Group) -> None:
    """Add ``slurm`` and its two in-job helpers to the ``shardyard`` group."""
    for command in (slurm, slurm_redis, slurm_continue):
        group.add_command(command)
