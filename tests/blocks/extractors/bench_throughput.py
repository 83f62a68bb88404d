"""Extractor throughput on the real HTML pages: our sandboxed blocks vs. bare library calls.

Not a test (no timing assertions anywhere): run it by hand and read the numbers::

    .venv/bin/python -m tests.blocks.extractors.bench_throughput [--replicas 3] [--work-ms 0]

Each mode runs in a fresh interpreter so that trafilatura's per-process deduplicate cache
starts empty everywhere. ``bare`` calls ``trafilatura.extract`` in a loop (imports already
done); ``block`` runs the Trafilatura block (sandbox child start-up included, reported
separately). ``--work-ms`` simulates the rest of a pipeline: that much CPU per document
in the parent after extraction, which the block overlaps with the next extraction.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def load_pages(replicas: int) -> list[str]:
    from bench.realdata import ensure_sources

    cache = ensure_sources(keys=("trafilatura", "htmldate", "newspaper", "inscriptis"))
    pages = []
    for p in sorted(Path(cache, "html").glob("*/*.html")):
        raw = p.read_bytes()
        try:
            pages.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            pages.append(raw.decode("cp1252", "replace"))
    return pages * replicas


def busy(ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def run_mode(mode: str, replicas: int, work_ms: float) -> dict[str, Any]:
    from blocks.document import Document

    pages = load_pages(replicas)
    cpu0 = sum(
        getattr(resource.getrusage(who), f)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for f in ("ru_utime", "ru_stime")
    )
    n_bytes = sum(len(p.encode("utf-8", "surrogatepass")) for p in pages)
    kept = 0
    startup = 0.0
    if mode.startswith("bare"):
        fn: Callable[[str], str | None]
        if mode == "bare-trafilatura":
            from trafilatura import extract

            def fn(html: str) -> str | None:
                return extract(html, favor_precision=True, include_comments=False, deduplicate=True)
        else:
            from blocks.extractors import Resiliparse

            fn = Resiliparse(sandbox=False).extract  # the very same call and options

        fn("")
        start = time.perf_counter()
        for html in pages:
            kept += bool(fn(html))
            busy(work_ms)
        elapsed = time.perf_counter() - start
    else:
        from blocks.extractors import Resiliparse, Trafilatura

        block = Trafilatura() if mode.startswith("block-trafilatura") else Resiliparse()
        if mode.endswith("-seq"):
            block.max_in_flight = 1  # type: ignore[misc]
        if mode.endswith("-inproc"):
            block.sandbox = False
        docs = (Document(p, str(i)) for i, p in enumerate(pages))
        t0 = time.perf_counter()
        stream = block.run(docs)
        first = next(stream, None)
        # the child starts when the first document is submitted; time to the first result
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        for _doc in [first] if first is not None else []:
            kept += 1
            busy(work_ms)
        for _doc in stream:
            kept += 1
            busy(work_ms)
        elapsed = time.perf_counter() - start + startup
    usage = resource.getrusage(resource.RUSAGE_SELF)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)  # the sandbox child, reaped at close
    cpu = usage.ru_utime + usage.ru_stime + child.ru_utime + child.ru_stime - cpu0
    return {
        "mode": mode,
        "cpu_s": round(cpu, 3),
        "docs": len(pages),
        "kept": kept,
        "mb": round(n_bytes / 1e6, 1),
        "seconds": round(elapsed, 3),
        "startup_s": round(startup, 3),
        "docs_per_s": round(len(pages) / elapsed, 1),
        "docs_per_s_after_start": round((len(pages) - 1) / max(elapsed - startup, 1e-9), 1),
    }


# DataTrove 0.10.1's own Trafilatura block (forked child, pickled pipe), in its venv.
_DATATROVE_RUN = """
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.extractors import Trafilatura
pages = json.load(sys.stdin)
block = Trafilatura()
t0 = time.perf_counter()
kept = sum(1 for _ in block.run(Document(p, str(i)) for i, p in enumerate(pages)))
elapsed = time.perf_counter() - t0
print(json.dumps({"docs": len(pages), "kept": kept, "seconds": elapsed}))
"""
DATATROVE_PY = Path(__file__).resolve().parents[3] / "bench" / ".venv-datatrove" / "bin" / "python"


def run_datatrove(replicas: int) -> dict[str, Any]:
    pages = load_pages(replicas)
    out = subprocess.run(
        [str(DATATROVE_PY), "-c", _DATATROVE_RUN],
        input=json.dumps(pages),
        capture_output=True,
        text=True,
        check=True,
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    rate = row["docs"] / row["seconds"]
    return {
        "mode": "datatrove-trafilatura",
        "docs": row["docs"],
        "kept": row["kept"],
        "seconds": round(row["seconds"], 3),
        "docs_per_s": round(rate, 1),
        "docs_per_s_after_start": round(rate, 1),
        "cpu_s": float("nan"),
    }


MODES = (
    "datatrove-trafilatura",
    "bare-trafilatura",
    "block-trafilatura",
    "block-trafilatura-seq",
    "bare-resiliparse",
    "block-resiliparse",
    "block-resiliparse-inproc",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="modes alternate, round by round")
    parser.add_argument("--work-ms", type=float, default=0.0)
    parser.add_argument("--mode", choices=MODES, action="append", help="default: all")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_mode(args.mode[0], args.replicas, args.work_ms)))
        return 0
    modes = [m for m in args.mode or MODES if m != "datatrove-trafilatura" or DATATROVE_PY.exists()]
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for mode in modes:
            if mode == "datatrove-trafilatura":
                row = run_datatrove(args.replicas)
                results.setdefault(mode, []).append(row)
                print(json.dumps(row), flush=True)
                continue
            cmd = [sys.executable, "-m", "tests.blocks.extractors.bench_throughput", "--child"]
            cmd += [
                "--mode",
                mode,
                "--replicas",
                str(args.replicas),
                "--work-ms",
                str(args.work_ms),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            results.setdefault(mode, []).append(row)
            print(json.dumps(row), flush=True)
    print("median over rounds:")
    for mode, rows in results.items():
        rate = statistics.median(r["docs_per_s"] for r in rows)
        warm = statistics.median(r["docs_per_s_after_start"] for r in rows)
        cpu = statistics.median(r["cpu_s"] for r in rows)
        print(f"  {mode:26s} {rate:7.1f} docs/s  ({warm:7.1f} after start-up)  cpu {cpu:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
