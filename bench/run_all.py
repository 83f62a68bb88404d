"""Run every benchmark of bench/ that exists, one after the other (what `make bench` runs).

    python -m bench.run_all                              # all of them, results in bench/results
    python -m bench.run_all --only processing
    python -m bench.run_all --processing-args "--repeats 3" --dispatch-overhead-args "--shards 2000"

Each benchmark runs as ``python -m bench.<name>`` in its own interpreter (so one failing
does not stop the others) with its JSON result written under ``--out``; a benchmark whose
module is absent is listed as skipped. The exit status is non-zero when any failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A benchmark module and how to point its JSON output into the results folder."""

    name: str
    module: str
    output_args: Callable[[Path], list[str]]
    summary: str


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "processing",
        "bench.processing",
        lambda out: ["--out", str(out)],
        "shardyard vs DataTrove 0.10.1: pipelines A (WARC) and B (JSONL), decisions",
    ),
    Benchmark(
        "dispatch_overhead",
        "bench.dispatch_overhead",
        lambda out: ["--json", str(out / "dispatch_overhead.json")],
        "per-shard dispatch overhead, enqueue time, Redis memory per shard",
    ),
)


def available(bench: Benchmark) -> bool:
    """Whether the benchmark's module exists in this checkout."""
    try:
        return importlib.util.find_spec(bench.module) is not None
    except (ImportError, ValueError):
        return False


def run(bench: Benchmark, out: Path, extra: Sequence[str]) -> dict[str, object]:
    """Run one benchmark, streaming its output; return its name, status and duration."""
    cmd = [sys.executable, "-m", bench.module, *bench.output_args(out), *extra]
    print(f"[run_all] {shlex.join(cmd)}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    code = subprocess.run(cmd, cwd=ROOT, check=False).returncode
    seconds = round(time.perf_counter() - start, 1)
    status = "ok" if code == 0 else f"failed (exit {code})"
    print(f"[run_all] {bench.name}: {status} in {seconds} s", file=sys.stderr, flush=True)
    return {"name": bench.name, "status": status, "seconds": seconds, "command": shlex.join(cmd)}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.run_all",
        description="Run every benchmark in bench/ that exists: "
        + "; ".join(f"{b.name} ({b.summary})" for b in BENCHMARKS),
        epilog='example: python -m bench.run_all --only processing --processing-args "--repeats 3"',
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"), help="results folder")
    ap.add_argument(
        "--only", action="append", choices=[b.name for b in BENCHMARKS], help="repeatable"
    )
    for b in BENCHMARKS:
        ap.add_argument(
            f"--{b.name.replace('_', '-')}-args",
            default="",
            metavar="ARGS",
            help=f"extra arguments for bench.{b.name} (one shell-quoted string)",
        )
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: list[dict[str, object]] = []
    for b in BENCHMARKS:
        if args.only and b.name not in args.only:
            continue
        if not available(b):
            print(f"[run_all] {b.name}: skipped ({b.module} is absent)", file=sys.stderr)
            report.append({"name": b.name, "status": "skipped (absent)"})
            continue
        extra = shlex.split(getattr(args, f"{b.name}_args"))
        report.append(run(b, out, extra))
    print(json.dumps(report, indent=2))
    return 0 if all(r["status"] == "ok" or "skipped" in str(r["status"]) for r in report) else 1


if __name__ == "__main__":
    sys.exit(main())
