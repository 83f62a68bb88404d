"""``shardyard``: the command line, a thin layer over the dispatcher library.

Each command calls one or two library functions; a :class:`ShardyardError` becomes
``error: <message>`` on stderr and its ``exit_code`` (a bad spec exits 2 naming the
field). Settings come from ``SHARDYARD_*`` (:class:`dispatcher.settings.Settings`);
flags override them. Only click is imported at module level, so ``shardyard --help``
is fast and importing this module pulls in no processing library.

Commands that read run state take ``--redis URL`` (default ``SHARDYARD_REDIS_URL``), or
``--logging-dir D`` to open the embedded state a ``shardyard run`` left in ``D``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import click

EPILOG_WIDTH = 100


class _Group(click.Group):
    """Turns library errors into a clean message and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from blocks.errors import ShardyardError

        try:
            return super().invoke(ctx)
        except ShardyardError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)
        except Exception as err:
            if type(err).__module__.startswith("redis"):
                click.echo(f"error: Redis: {err}", err=True)
                ctx.exit(1)
            raise


def _settings() -> Any:
    from dispatcher.settings import Settings

    return Settings.from_env()


def _example(text: str) -> str:
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in text.strip().splitlines())


@click.group(cls=_Group, context_settings={"max_content_width": EPILOG_WIDTH})
@click.version_option(package_name="shardyard")
def main() -> None:
    """shardyard: prepare LLM training text at scale (read, extract, filter, dedup, write).

    \b
    Example:
      shardyard validate spec.yaml && shardyard run spec.yaml --workers 4
    """


# -- shared options and helpers ------------------------------------------------------
def redis_options(fn: Any) -> Any:
    fn = click.option(
        "--insecure", is_flag=True, help="Allow a passwordless Redis that is not on loopback."
    )(fn)
    fn = click.option(
        "--logging-dir",
        "state_logging_dir",
        default=None,
        help="Use the embedded state a `shardyard run` kept in this logging dir.",
    )(fn)
    return click.option(
        "--redis", "redis_url", default=None, help="Redis URL (default: SHARDYARD_REDIS_URL)."
    )(fn)


@contextlib.contextmanager
def open_store(
    redis_url: str | None, logging_dir: str | None, insecure: bool
) -> Iterator[tuple[Any, str]]:
    """A StateStore for ``--redis`` (or SHARDYARD_REDIS_URL), else for the embedded state
    of ``--logging-dir``; yields ``(store, url)``."""
    from dispatcher.state import StateStore

    settings = _settings()
    url = redis_url or (None if logging_dir else settings.redis_url)
    insecure = insecure or settings.insecure
    if url:
        yield StateStore.from_url(url, insecure=insecure), url
        return
    if not logging_dir:
        raise click.UsageError("give --redis URL (or SHARDYARD_REDIS_URL) or --logging-dir")
    from dispatcher.executors.embedded import EmbeddedRedis
    from dispatcher.executors.run import state_dir_for

    path = state_dir_for(logging_dir, None)
    if not (path / "appendonly.aof").exists():
        raise click.UsageError(f"no shardyard state in {logging_dir} (no `shardyard run` there)")
    live = EmbeddedRedis.running_url(path)
    if live is not None:  # a `shardyard run` is using it right now
        yield StateStore.from_url(live), live
        return
    with EmbeddedRedis(path) as server:
        yield StateStore.from_url(server.url), server.url


def _sender(url: str, queue: str, insecure: bool) -> Any:
    from dispatcher.executors.celery import make_sender

    return make_sender(url, queue=queue, insecure=insecure)


def _load_spec(path: str, tasks: int | None, plugins: str | None) -> Any:
    from blocks import registry
    from blocks.spec import PipelineSpec
    from dispatcher.settings import split_modules

    registry.load_plugins([*_settings().plugins, *split_modules(plugins)])
    spec = PipelineSpec.from_file(path)
    if tasks is None:
        return spec
    if tasks < 1:
        raise click.BadParameter("must be at least 1", param_hint="--tasks")
    data = spec.to_json()
    data["stages"][0]["tasks"] = tasks
    return PipelineSpec.from_dict(data)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


# -- commands ------------------------------------------------------------------------
@main.command(epilog=_example("shardyard validate examples/quickstart.yaml"))
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--plugins", default=None, help="Comma-separated modules registering blocks.")
def validate(spec: str, plugins: str | None) -> None:
    """Check a spec: every stage, block and parameter. Exits 2 naming the bad field."""
    pipeline = _load_spec(spec, None, plugins)
    for stage in pipeline.stages:
        blocks = ", ".join(b.name for b in stage.pipeline)
        click.echo(f"stage {stage.name}: {stage.tasks} task(s), {stage.sharding}: {blocks}")
    click.echo(f"ok: {pipeline.name} (spec {pipeline.spec_hash()[:12]})")


@main.command(
    epilog=_example(
        "shardyard run spec.yaml --workers 4\n"
        "shardyard run spec.yaml --workers 4          # again: only what is not done runs"
    )
)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--tasks", type=int, default=None, help="Tasks of the first stage (round_robin).")
@click.option("--workers", type=int, default=None, help="Local worker processes (default: CPUs).")
@click.option("--redis", "redis_url", default=None, help="Use this Redis, not an embedded one.")
@click.option("--run-id", default=None, help="Run id (default: the spec's name).")
@click.option(
    "--logging-dir", default=None, help="Stats, executor.json, state (default: logs/RUN)."
)
@click.option("--queue", default=None, help="Celery queue (default: SHARDYARD_QUEUE or shardyard).")
@click.option("--force", is_flag=True, help="Replace a different stored spec, starting over.")
@click.option("--plugins", default=None, help="Comma-separated modules registering blocks.")
@click.option("--insecure", is_flag=True, help="Allow a passwordless non-loopback Redis.")
@click.option("--no-progress", is_flag=True, help="No live progress bar.")
def run(
    spec: str,
    tasks: int | None,
    workers: int | None,
    redis_url: str | None,
    run_id: str | None,
    logging_dir: str | None,
    queue: str | None,
    force: bool,
    plugins: str | None,
    insecure: bool,
    no_progress: bool,
) -> None:
    """Run a spec on this machine: an embedded Redis and local worker processes.

    Shows shards done/failed/total, docs/s and ETA, merges stats into LOGGING_DIR/stats.json
    and exits 1 when a shard failed. Running it again runs only what is not done (failed
    shards are retried).
    """
    from dispatcher.executors.run import run_spec

    settings = _settings()
    pipeline = _load_spec(spec, tasks, plugins)
    result = run_spec(
        pipeline,
        run_id=run_id,
        workers=workers,
        redis_url=redis_url,
        logging_dir=logging_dir,
        queue=queue or settings.queue,
        force=force,
        plugins=[*settings.plugins, *(p for p in (plugins or "").split(",") if p.strip())],
        insecure=insecure or settings.insecure,
        progress=not no_progress and sys.stderr.isatty(),
    )
    for line in result.summary():
        click.echo(line)
    if not result.complete:
        sys.exit(1)


@main.command(
    epilog=_example(
        "shardyard submit spec.yaml --redis redis://:PASS@10.0.0.5:6379/0 --run-id news-2024"
    )
)
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option(
    "--redis", "redis_url", default=None, help="Redis URL (default: SHARDYARD_REDIS_URL)."
)
@click.option("--run-id", default=None, help="Run id (default: the spec's name).")
@click.option("--queue", default=None, help="Celery queue (default: SHARDYARD_QUEUE or shardyard).")
@click.option("--force", is_flag=True, help="Replace a different stored spec, starting over.")
@click.option("--depends", multiple=True, help="Run id that must complete first (repeatable).")
@click.option("--tasks", type=int, default=None, help="Tasks of the first stage (round_robin).")
@click.option("--logging-dir", default=None, help="Where stats.json and executor.json go.")
@click.option("--plugins", default=None, help="Comma-separated modules registering blocks.")
@click.option("--insecure", is_flag=True, help="Allow a passwordless non-loopback Redis.")
def submit(
    spec: str,
    redis_url: str | None,
    run_id: str | None,
    queue: str | None,
    force: bool,
    depends: Sequence[str],
    tasks: int | None,
    logging_dir: str | None,
    plugins: str | None,
    insecure: bool,
) -> None:
    """Validate a spec, store the run in Redis and enqueue its shards for workers.

    Only ranks not done are sent, so submitting again is always safe; later stages are
    enqueued by the workers themselves.
    """
    from dispatcher.submit import submit_run

    settings = _settings()
    pipeline = _load_spec(spec, tasks, plugins)  # a bad spec exits 2 before Redis is touched
    url = redis_url or settings.redis_url
    if not url:
        raise click.UsageError("give --redis URL or set SHARDYARD_REDIS_URL")
    q = queue or settings.queue
    insecure = insecure or settings.insecure
    with open_store(url, None, insecure) as (store, _url):
        result = submit_run(
            store,
            pipeline,
            run_id=run_id,
            queue=q,
            force=force,
            send=_sender(url, q, insecure),
            options={"logging_dir": logging_dir} if logging_dir else {},
            depends=depends,
        )
    if result.waiting_for:
        click.echo(f"{result.run_id}: waiting for {', '.join(result.waiting_for)}")
    elif result.complete:
        click.echo(f"{result.run_id}: already complete")
    else:
        click.echo(f"{result.run_id}: stage {result.stage}: {result.enqueued} shard(s) enqueued")


@main.command(epilog=_example("shardyard status news-2024 --redis $URL --json"))
@click.argument("run_id")
@redis_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status.")
def status(
    run_id: str,
    redis_url: str | None,
    state_logging_dir: str | None,
    insecure: bool,
    as_json: bool,
) -> None:
    """Shards done, failed and running per stage; --json prints the status document."""
    from dispatcher.errors import RunNotFoundError

    with open_store(redis_url, state_logging_dir, insecure) as (store, _url):
        if store.get_run(run_id) is None:
            raise RunNotFoundError(f"no run {run_id!r}")
        data = store.status(run_id)
    if as_json:
        _echo_json(data)
        return
    click.echo(f"{run_id}: {'complete' if data['complete'] else 'not complete'}")
    for s in data["stages"]:
        click.echo(
            f"  {s['name']}: {s['done']}/{s['tasks']} done, {s['failed']} failed, "
            f"{s['running']} running"
        )


@main.command(epilog=_example("shardyard stats news-2024 --redis $URL -o stats.json"))
@click.argument("run_id")
@redis_options
@click.option("-o", "--output", default=None, help="Also write the merged stats here.")
def stats(
    run_id: str,
    redis_url: str | None,
    state_logging_dir: str | None,
    insecure: bool,
    output: str | None,
) -> None:
    """Merge the run's per-shard stats now (into its logging dir's stats.json too)."""
    from dispatcher.errors import RunNotFoundError
    from dispatcher.merge import merge_run, stats_document

    with open_store(redis_url, state_logging_dir, insecure) as (store, _url):
        record = store.get_run(run_id)
        if record is None:
            raise RunNotFoundError(f"no run {run_id!r}")
        stages = merge_run(store, run_id, record.options.get("logging_dir"))
        document = stats_document(stages, store.stage_names(run_id))
    if output:
        from pathlib import Path

        out = Path(output)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        tmp.replace(out)
        click.echo(f"wrote {output}")
    else:
        _echo_json(document)


def _ranks(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter(
            "comma-separated integers, e.g. 1,2,7", param_hint="--ranks"
        ) from None


@main.command(epilog=_example("shardyard requeue news-2024 --redis $URL --failed"))
@click.argument("run_id")
@redis_options
@click.option("--failed", is_flag=True, help="Requeue the ranks that failed.")
@click.option("--ranks", default=None, help="Requeue these ranks (comma-separated).")
@click.option("--stage", default=None, help="Stage (default: the first one not complete).")
@click.option("--queue", default=None, help="Queue to send to (default: the run's).")
def requeue(
    run_id: str,
    redis_url: str | None,
    state_logging_dir: str | None,
    insecure: bool,
    failed: bool,
    ranks: str | None,
    stage: str | None,
    queue: str | None,
) -> None:
    """Give ranks their attempts back and enqueue them again (done ranks never re-run).

    Without --failed or --ranks every pending rank of the stage is sent again.
    """
    from dispatcher.submit import requeue as do_requeue
    from dispatcher.submit import stored_spec

    if failed and ranks:
        raise click.UsageError("give --failed or --ranks, not both")
    with open_store(redis_url, state_logging_dir, insecure) as (store, url):
        _spec, options, _hash = stored_spec(store, run_id)
        q = queue or options.get("queue") or _settings().queue
        name, sent = do_requeue(
            store,
            run_id,
            _sender(url, q, insecure or _settings().insecure),
            stage=stage,
            ranks=_ranks(ranks),
            failed=failed,
        )
    if name is None:
        click.echo(f"{run_id}: complete, nothing to requeue")
    else:
        click.echo(f"{run_id}: stage {name}: requeued {len(sent)} rank(s) {sent}")


@main.command(epilog=_example("shardyard failed news-2024 --redis $URL"))
@click.argument("run_id")
@redis_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable failures.")
@click.option("--traceback", "show_tb", is_flag=True, help="Show each traceback tail.")
def failed(
    run_id: str,
    redis_url: str | None,
    state_logging_dir: str | None,
    insecure: bool,
    as_json: bool,
    show_tb: bool,
) -> None:
    """Ranks whose last attempt failed: error, attempt, worker (and traceback)."""
    with open_store(redis_url, state_logging_dir, insecure) as (store, _url):
        out = []
        for stage in store.stage_names(run_id):
            final = set(store.failed_ranks(run_id, stage))
            for rank, rec in sorted(store.failures(run_id, stage).items()):
                out.append(
                    {
                        "stage": stage,
                        "rank": rank,
                        "final": rank in final,
                        "attempt": rec.attempt,
                        "worker": rec.worker,
                        "time": rec.time,
                        "error": rec.error,
                        "traceback": rec.traceback,
                    }
                )
    if as_json:
        _echo_json(out)
        return
    if not out:
        click.echo(f"{run_id}: no failures")
    for item in out:
        state = "failed" if item["final"] else "will retry"
        click.echo(
            f"{item['stage']}/{item['rank']} ({state}, attempt {item['attempt']}, "
            f"{item['worker']}): {item['error']}"
        )
        if show_tb:
            click.echo(item["traceback"])


@main.command(epilog=_example("shardyard logs news-2024 3 --redis $URL --stage filter"))
@click.argument("run_id")
@click.argument("rank", type=int)
@redis_options
@click.option("--stage", default=None, help="Stage (default: the first one not complete).")
def logs(
    run_id: str,
    rank: int,
    redis_url: str | None,
    state_logging_dir: str | None,
    insecure: bool,
    stage: str | None,
) -> None:
    """Print the last log lines of one shard, kept in Redis (no log file per task)."""
    from dispatcher.errors import RunNotFoundError

    with open_store(redis_url, state_logging_dir, insecure) as (store, _url):
        names = store.stage_names(run_id)
        if not names:
            raise RunNotFoundError(f"no run {run_id!r}")
        pending = [n for n in names if not store.stage_complete(run_id, n)]
        name = stage or (pending[0] if pending else names[-1])
        if name not in names:
            raise click.BadParameter(f"{name!r} is not one of {names}", param_hint="--stage")
        lines = store.logs(run_id, name, rank)
    if not lines:
        click.echo(f"no log lines for {run_id}/{name}/{rank}", err=True)
    for line in lines:
        click.echo(line)


@main.command(epilog=_example("shardyard cancel news-2024 --redis $URL"))
@click.argument("run_id")
@redis_options
def cancel(
    run_id: str, redis_url: str | None, state_logging_dir: str | None, insecure: bool
) -> None:
    """Cancel a run: queued shards are dropped, running ones stop at their next heartbeat."""
    from dispatcher.errors import RunNotFoundError

    with open_store(redis_url, state_logging_dir, insecure) as (store, _url):
        if store.get_run(run_id) is None:
            raise RunNotFoundError(f"no run {run_id!r}")
        store.cancel(run_id)
    click.echo(f"{run_id}: cancelled (submit or requeue it to resume)")


@main.command("list", epilog=_example("shardyard list --redis $URL"))
@redis_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
def list_runs(
    redis_url: str | None, state_logging_dir: str | None, insecure: bool, as_json: bool
) -> None:
    """Runs stored in Redis, oldest first, with their progress."""
    with open_store(redis_url, state_logging_dir, insecure) as (store, _url):
        rows = [{"run_id": r, **store.status(r)} for r in store.list_runs()]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        done = sum(s["done"] for s in row["stages"])
        total = sum(s["tasks"] for s in row["stages"])
        failed_n = sum(s["failed"] for s in row["stages"])
        state = "complete" if row["complete"] else f"{done}/{total} shards, {failed_n} failed"
        click.echo(f"{row['run_id']}: {state}")


@main.command("merge-stats", epilog=_example("shardyard merge-stats logs/my-run -o stats.json"))
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("-o", "--output", required=True, help="Where to write the merged stats.")
def merge_stats(directory: str, output: str) -> None:
    """Merge a folder of per-shard stats files (shardyard's or DataTrove's stats/*.json)."""
    from dispatcher.merge import merge_stats_dir

    merged = merge_stats_dir(directory, output)
    click.echo(f"merged {merged.shards} shard(s) into {output}")


from dispatcher.cli_slurm import register as _register_slurm  # noqa: E402

_register_slurm(main)

if __name__ == "__main__":  # pragma: no cover
    main()
