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
    return {
        "mode": mode,
        "docs": len(pages),
        "kept": kept,
        "mb": round(n_bytes / 1e6, 1),
        "seconds": round(elapsed, 3),
        "startup_s": round(startup, 3),
        "docs_per_s": round(len(pages) / elapsed, 1),
        "docs_per_s_after_start": round((len(pages) - 1) / max(elapsed - startup, 1e-9), 1),
    }


MODES = (
    "bare-trafilatura",
    "block-trafilatura",
    "block-trafilatura-seq",
    "bare-resiliparse",
    "block-resiliparse",
    "block-resiliparse-inproc",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--work-ms", type=float, default=0.0)
    parser.add_argument("--mode", choices=MODES)
    args = parser.parse_args(argv)
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.replicas, args.work_ms)))
        return 0
    for mode in MODES:
        cmd = [sys.executable, "-m", "tests.blocks.extractors.bench_throughput", "--mode", mode]
        cmd += ["--replicas", str(args.replicas), "--work-ms", str(args.work_ms)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
