"""Side-by-side processing benchmark: shardyard vs DataTrove 0.10.1 on the same real corpus.

    python -m bench.processing                         # build/reuse the corpus, run A and B
    python -m bench.processing --jsonl-mb 10 --warc-replicas 2 --repeats 3 --out bench/results

Pipelines (the same blocks and parameters on both sides):

    B  JsonlReader -> GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False)
       -> JsonlWriter                                   on the JSONL.gz corpus
    A  WarcReader -> Trafilatura -> GopherRepetitionFilter -> GopherQualityFilter
       -> LanguageFilter(languages=["en"]) -> JsonlWriter  on the WARC.gz corpus

and, as A's ceiling, bare ``trafilatura.extract`` (the Trafilatura block's default
options) over the same HTML payloads in one process.

How it measures. The corpus comes from ``bench.corpus`` (real texts and HTML pages, see
DATA.md). Every run is a fresh interpreter with one process doing the work: DataTrove's
blocks drained as its ``LocalPipelineExecutor(tasks=1, workers=1)`` does (in its own venv,
``bench/_datatrove_side.py``), shardyard's through ``blocks.pipeline.run_pipeline``. Both
are timed by the same code (``bench._datatrove_side.run_side``): a warm-up on the first
``--warmup-docs`` documents with separate blocks, then one timed run with fresh blocks
from construction to the closed output file. Each extractor runs its own sandbox child,
started inside the timed run (DataTrove forks it, shardyard spawns a fresh interpreter).
Sides alternate which goes first from round to round; each configuration runs
``--repeats`` times and the median and best wall times are reported, with CPU time
(process + reaped children), which a loaded machine inflates much less.

Decisions: per document id (the ids both readers give), kept by both / dropped by both /
kept by one only, from the first round's outputs; per-step stats (drops by reason) side
by side; whether repeats changed any decision (extraction timeouts can).

The DataTrove side gets two concessions, both stated in the result: its LanguageFilter
reads the same local ``lid.176.ftz`` (``FT176LID.MODEL_URL`` pointed at it) and keeps the
model loaded from the warm-up, and trafilatura is imported in its parent before timing so
that its forked extractor child warms up within DataTrove's fixed 1 s limit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import corpus as corpus_mod
from bench import realdata
from bench._datatrove_side import STEPS, TIMED_RUN_MARK, Execute, run_side, step_report

ROOT = Path(__file__).resolve().parent.parent
DATATROVE_SIDE = Path(__file__).resolve().parent / "_datatrove_side.py"
DEFAULT_DATATROVE_PYTHON = ROOT / "bench" / ".venv-datatrove" / "bin" / "python"
DEFAULT_CORPUS = ROOT / "data" / "bench-processing"
DEFAULT_OUT = ROOT / "bench" / "results"

#: Goals the results are judged against (docs/s ratios, share of identical decisions).
GOALS = {
    "B": {"speedup": 5.0, "agreement": 0.99},
    "A": {"speedup": 1.5, "ceiling_share": 0.8},
}
PIPELINE_INPUT = {"B": "jsonl", "A": "warc"}
CONCESSIONS = [
    "DataTrove's LanguageFilter reads the same local lid.176.ftz (FT176LID.MODEL_URL = file://...)"
    " and its timed run reuses the model object loaded by the warm-up (shardyard caches"
    " models per process)",
    "trafilatura is imported in DataTrove's parent before timing, so its forked extractor"
    " child warms up within DataTrove's fixed 1 s warm-up limit",
]


# --------------------------------------------------------------------------- corpus


def ensure_corpus(
    folder: Path, *, jsonl_mb: float, warc_replicas: int, cache_dir: str | None = None
) -> dict[str, Any]:
    """Build the corpus with ``bench.corpus`` unless ``folder`` holds one with these
    parameters (it is deterministic, so a matching manifest means the same bytes)."""
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        params = manifest.get("params", {})
        if (
            params.get("jsonl_mb") == jsonl_mb
            and params.get("warc_replicas") == warc_replicas
            and "jsonl" in manifest
            and "warc" in manifest
            and all(
                (folder / part / f["file"]).is_file()
                for part in ("jsonl", "warc")
                for f in manifest[part]["files"]
            )
        ):
            return manifest
    print(f"[processing] building the corpus in {folder}", file=sys.stderr)
    return corpus_mod.build(
        folder, jsonl_mb=jsonl_mb, warc_replicas=warc_replicas, cache_dir=cache_dir
    )


def universe_ids(pipeline: str, folder: Path, limit: int = -1) -> list[str]:
    """Ids of the documents a reader gives for ``pipeline``'s input, in reading order."""
    from blocks.readers import JsonlReader, WarcReader

    reader_cls = JsonlReader if pipeline == "B" else WarcReader
    reader = reader_cls(str(folder / PIPELINE_INPUT[pipeline]), limit=limit)
    return [doc.id for doc in reader.run(None)]


# --------------------------------------------------------------------------- shardyard side


def html_payloads(folder: str, limit: int) -> list[str]:
    """The HTML texts WarcReader hands to the extractor, in reading order."""
    from blocks.readers import WarcReader

    return [doc.text for doc in WarcReader(folder, limit=limit).run(None)]


def shardyard_execute(cfg: Mapping[str, Any]) -> Execute:
    """shardyard blocks for ``cfg["pipeline"]`` ("A", "B", or "extract": bare trafilatura)."""
    pipeline = cfg["pipeline"]
    if pipeline == "extract":
        payloads = html_payloads(cfg["input"], cfg["limit"])  # read before timing

        def bare(output: str, limit: int) -> list[dict[str, Any]]:
            from trafilatura import extract  # import timed, as in each sandbox child

            non_empty = 0
            for html in payloads:
                # the Trafilatura block's defaults (DataTrove's)
                text = extract(html, favor_precision=True, include_comments=False, deduplicate=True)
                non_empty += bool(text)
            counts = {"total": len(payloads), "forwarded": non_empty}
            return [{"stats": counts, "time": {}}]

        return bare

    from blocks.extractors import Trafilatura
    from blocks.filters import (
        C4QualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from blocks.pipeline import run_pipeline
    from blocks.readers import JsonlReader, WarcReader
    from blocks.writers import JsonlWriter

    def execute(output: str, limit: int) -> list[dict[str, Any]]:
        steps: list[Any]
        if pipeline == "B":
            steps = [
                JsonlReader(cfg["input"], limit=limit),
                GopherQualityFilter(),
                C4QualityFilter(filter_no_terminal_punct=False),
                JsonlWriter(output),
            ]
        elif pipeline == "A":
            steps = [
                WarcReader(cfg["input"], limit=limit),
                Trafilatura(timeout=cfg["timeout"]),
                GopherRepetitionFilter(),
                GopherQualityFilter(),
                LanguageFilter(languages=["en"], model_path=cfg["lid_model"]),
                JsonlWriter(output),
            ]
        else:
            raise ValueError(f"unknown pipeline {pipeline!r}")
        run_pipeline(steps)
        return [step_report(step.stats.stats, step.stats.time) for step in steps]

    return execute


def side_main(config_path: str) -> int:
    """Entry point of a shardyard side process (``--side CONFIG``)."""
    cfg = json.loads(Path(config_path).read_text())
    versions = {"shardyard": md.version("shardyard")}
    for dist in ("trafilatura", "warcio", "fasttext-community"):
        versions[dist] = md.version(dist)
    execute = shardyard_execute(cfg)
    result = run_side(cfg, execute, side="shardyard", versions=versions)
    Path(cfg["result"]).write_text(json.dumps(result) + "\n")
    return 0


# --------------------------------------------------------------------------- orchestration


_TIMED_OUT = re.compile(r"extraction timed out after [0-9.]+ s: skipping document (\S+)")


class SideError(RuntimeError):
    """A side process failed; the message ends with the tail of its log."""


def run_process(
    side: str, cfg: dict[str, Any], workdir: Path, *, datatrove_python: Path
) -> dict[str, Any]:
    """Run one side in a fresh interpreter and return its result."""
    name = f"{cfg['pipeline']}-{side}-{cfg['round']}"
    cfg = {
        **cfg,
        "output": str(workdir / name / "out"),
        "warmup_output": str(workdir / name / "warmup"),
        "result": str(workdir / name / "result.json"),
    }
    (workdir / name).mkdir(parents=True)
    cfg_path = workdir / name / "config.json"
    cfg_path.write_text(json.dumps(cfg, indent=1))
    if side == "datatrove":
        # -I: DataTrove's venv only, nothing from this repo or its environment on the path
        cmd = [str(datatrove_python), "-I", str(DATATROVE_SIDE), str(cfg_path)]
    else:
        cmd = [sys.executable, "-m", "bench.processing", "--side", str(cfg_path)]
    log_path = workdir / name / "stderr.log"
    with open(log_path, "wb") as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SideError(f"{side} {cfg['pipeline']} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(Path(cfg["result"]).read_text())
    result["round"] = cfg["round"]
    if side == "shardyard":
        # shardyard's extractor logs the id of each document it gave up on (timeout)
        log_text = log_path.read_text(errors="replace").partition(TIMED_RUN_MARK)[2]
        result["timed_out_ids"] = _TIMED_OUT.findall(log_text)
    return result


def compare(
    universe: Sequence[str], shardyard_kept: Iterable[str], datatrove_kept: Iterable[str]
) -> dict[str, Any]:
    """Per-document keep/drop agreement over ``universe`` (ids both readers give)."""
    sy, dtk = set(shardyard_kept), set(datatrove_kept)
    ids = list(dict.fromkeys(universe))
    both_kept = [i for i in ids if i in sy and i in dtk]
    only_sy = [i for i in ids if i in sy and i not in dtk]
    only_dt = [i for i in ids if i in dtk and i not in sy]
    both_dropped = len(ids) - len(both_kept) - len(only_sy) - len(only_dt)
    n = len(ids)
    stray = sorted((sy | dtk) - set(ids))
    return {
        "documents": n,
        "kept_by_both": len(both_kept),
        "dropped_by_both": both_dropped,
        "kept_by_shardyard_only": len(only_sy),
        "kept_by_datatrove_only": len(only_dt),
        "agreement": round((len(both_kept) + both_dropped) / n, 6) if n else 1.0,
        "examples_kept_by_shardyard_only": only_sy[:20],
        "examples_kept_by_datatrove_only": only_dt[:20],
        "kept_ids_not_in_input": stray[:20],
    }


def _timing(runs: Sequence[Mapping[str, Any]], documents: int) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    cpus = [r["cpu_s"] + r["children_cpu_s"] for r in runs]
    med, best, cpu = statistics.median(walls), min(walls), statistics.median(cpus)
    return {
        "runs": len(runs),
        "wall_s": [round(w, 3) for w in walls],
        "cpu_s": [round(c, 3) for c in cpus],
        "median_wall_s": round(med, 3),
        "best_wall_s": round(best, 3),
        "median_cpu_s": round(cpu, 3),
        "docs_per_s_median": round(documents / med, 2) if med else None,
        "docs_per_s_best": round(documents / best, 2) if best else None,
        "docs_per_cpu_s": round(documents / cpu, 2) if cpu else None,
        "load_avg": [r["load_before"][0] for r in runs],
    }


def _steps_side_by_side(
    sy_steps: Sequence[Mapping[str, Any]], dt_steps: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Counters of each step (totals, forwarded, drops by reason, extractor outcomes)."""
    rows = []
    for sy, dtr in zip(sy_steps, dt_steps, strict=True):
        labels = sorted(
            label
            for label in set(sy["stats"]) | set(dtr["stats"])
            if label in ("total", "forwarded", "dropped", "extracted", "timeout")
            or label in ("broken_process", "clean_error", "documents")
            or label.startswith(("dropped_", "error_"))
        )
        rows.append(
            {
                "step": sy["name"],
                "time_s": {
                    "shardyard": sy["time"].get("total_s"),
                    "datatrove": dtr["time"].get("total_s"),
                },
                "counts": {
                    label: {
                        "shardyard": sy["stats"].get(label, 0),
                        "datatrove": dtr["stats"].get(label, 0),
                    }
                    for label in labels
                },
            }
        )
    return rows


def _documents_in(result: Mapping[str, Any]) -> int:
    """Documents entering the first block after the reader."""
    return int(result["steps"][1]["stats"].get("total", 0))


def summarize(
    pipeline: str,
    universe: Sequence[str],
    sy_runs: Sequence[Mapping[str, Any]],
    dt_runs: Sequence[Mapping[str, Any]],
    bare_runs: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Throughput, ratios, decision agreement and step counters of one pipeline."""
    sy0, dt0 = sy_runs[0], dt_runs[0]
    n_sy, n_dt = _documents_in(sy0), _documents_in(dt0)
    sy_t, dt_t = _timing(sy_runs, n_sy), _timing(dt_runs, n_dt)
    decisions = compare(universe, sy0["kept_ids"], dt0["kept_ids"])
    if "timed_out_ids" in sy0:
        only_dt = set(dt0["kept_ids"]) - set(sy0["kept_ids"])
        decisions["kept_by_datatrove_only_after_shardyard_timeout"] = len(
            only_dt & set(sy0["timed_out_ids"])
        )

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    out: dict[str, Any] = {
        "pipeline": " -> ".join(STEPS[pipeline]),
        "documents_read": {"shardyard": n_sy, "datatrove": n_dt, "input": len(universe)},
        "shardyard": sy_t,
        "datatrove": dt_t,
        "speedup_median_wall": ratio(sy_t["docs_per_s_median"], dt_t["docs_per_s_median"]),
        "speedup_best_wall": ratio(sy_t["docs_per_s_best"], dt_t["docs_per_s_best"]),
        "speedup_cpu": ratio(sy_t["docs_per_cpu_s"], dt_t["docs_per_cpu_s"]),
        "decisions": decisions,
        "decision_changes_across_repeats": {
            "shardyard": _changes(universe, sy_runs),
            "datatrove": _changes(universe, dt_runs),
        },
        "steps": _steps_side_by_side(sy0["steps"], dt0["steps"]),
        "versions": {"shardyard": sy0["versions"], "datatrove": dt0["versions"]},
    }
    if bare_runs:
        bare_t = _timing(bare_runs, int(bare_runs[0]["steps"][0]["stats"]["total"]))
        out["bare_trafilatura"] = bare_t
        out["ceiling_share_median_wall"] = ratio(
            sy_t["docs_per_s_median"], bare_t["docs_per_s_median"]
        )
        out["ceiling_share_best_wall"] = ratio(sy_t["docs_per_s_best"], bare_t["docs_per_s_best"])
        out["ceiling_share_cpu"] = ratio(sy_t["docs_per_cpu_s"], bare_t["docs_per_cpu_s"])
        out["datatrove_ceiling_share_median_wall"] = ratio(
            dt_t["docs_per_s_median"], bare_t["docs_per_s_median"]
        )
    goals = GOALS[pipeline]
    met: dict[str, bool | None] = {}
    speed = out["speedup_median_wall"]
    met[f"speedup >= {goals['speedup']}x (median wall)"] = (
        None if speed is None else speed >= goals["speedup"]
    )
    if "agreement" in goals:
        met[f"agreement >= {goals['agreement']:.0%}"] = (
            out["decisions"]["agreement"] >= goals["agreement"]
        )
    if "ceiling_share" in goals and "ceiling_share_median_wall" in out:
        share = out["ceiling_share_median_wall"]
        met[f">= {goals['ceiling_share']:.0%} of bare trafilatura.extract (median wall)"] = (
            None if share is None else share >= goals["ceiling_share"]
        )
    out["goals"] = met
    return out


def _changes(universe: Sequence[str], runs: Sequence[Mapping[str, Any]]) -> int:
    """Documents whose keep/drop decision differs between any two runs of one side."""
    kept_sets = [set(r["kept_ids"]) for r in runs]
    return sum(1 for i in set(universe) if len({i in k for k in kept_sets}) > 1)


def run_benchmark(
    corpus_dir: Path,
    *,
    pipelines: Sequence[str] = ("B", "A"),
    repeats: int = 2,
    limit: int = -1,
    warmup_docs: int = 20,
    timeout: float = 1.0,
    bare: bool = True,
    datatrove_python: Path = DEFAULT_DATATROVE_PYTHON,
    workdir: Path | None = None,
    lid_model: str | None = None,
) -> dict[str, Any]:
    """Run every pipeline ``repeats`` times per side, interleaved; return the summary."""
    if not datatrove_python.is_file():
        raise SideError(
            f"no DataTrove interpreter at {datatrove_python}: run `bash bench/datatrove_env.sh`"
        )
    lid = lid_model or str(realdata.path("lid176"))
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="sy-bench-")) if workdir is None else workdir
    started = dt.datetime.now(dt.UTC)
    load_start = os.getloadavg()
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for rnd in range(repeats):
            order = ("datatrove", "shardyard") if rnd % 2 == 0 else ("shardyard", "datatrove")
            for pipeline in pipelines:
                base = {
                    "pipeline": pipeline,
                    "input": str(corpus_dir / PIPELINE_INPUT[pipeline]),
                    "limit": limit,
                    "warmup_limit": warmup_docs,
                    "lid_model": lid,
                    "timeout": timeout,
                    "preimport_trafilatura": True,
                    "round": rnd,
                }
                sides = list(order)
                if pipeline == "A" and bare:
                    sides.append("bare")
                for side in sides:
                    cfg = dict(base)
                    if side == "bare":
                        cfg.update(pipeline="extract", warmup_limit=0)
                    proc_side = "datatrove" if side == "datatrove" else "shardyard"
                    res = run_process(proc_side, cfg, work, datatrove_python=datatrove_python)
                    runs.setdefault((pipeline, side), []).append(res)
                    print(
                        f"[processing] round {rnd} {pipeline} {side:9s} {res['wall_s']:8.2f} s wall"
                        f" {res['cpu_s'] + res['children_cpu_s']:8.2f} s cpu"
                        f"  load {res['load_before'][0]:.1f}",
                        file=sys.stderr,
                    )
        results: dict[str, Any] = {}
        for pipeline in pipelines:
            universe = universe_ids(pipeline, corpus_dir, limit)
            results[pipeline] = summarize(
                pipeline,
                universe,
                runs[(pipeline, "shardyard")],
                runs[(pipeline, "datatrove")],
                runs.get((pipeline, "bare"), ()),
            )
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "benchmark": "processing",
        "started": started.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_start": [round(x, 2) for x in load_start],
            "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "method": {
            "repeats": repeats,
            "interleaved": "sides alternate first place each round",
            "limit": limit,
            "warmup_docs": warmup_docs,
            "extractor_timeout_s": timeout,
            "timed": "fresh blocks, construction to closed output, after a warm-up run",
            "throughput": "documents entering the block after the reader / wall seconds",
            "concessions_to_datatrove": CONCESSIONS,
        },
        "pipelines": results,
    }


# --------------------------------------------------------------------------- report


def format_table(result: Mapping[str, Any]) -> str:
    """A Markdown table of the throughput and decision results."""
    lines = [
        "| pipeline | docs | DataTrove docs/s | shardyard docs/s | speedup (median / best / CPU)"
        " | same decision | goals |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in result["pipelines"].items():
        d = p["decisions"]
        goals = ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in p["goals"].items())
        lines.append(
            f"| {name} | {p['documents_read']['input']}"
            f" | {p['datatrove']['docs_per_s_median']} (best {p['datatrove']['docs_per_s_best']})"
            f" | {p['shardyard']['docs_per_s_median']} (best {p['shardyard']['docs_per_s_best']})"
            f" | {p['speedup_median_wall']}x / {p['speedup_best_wall']}x / {p['speedup_cpu']}x"
            f" | {d['agreement']:.2%} ({d['kept_by_both']} kept, {d['dropped_by_both']} dropped,"
            f" {d['kept_by_shardyard_only']}+{d['kept_by_datatrove_only']} differ)"
            f" | {goals} |"
        )
        if "bare_trafilatura" in p:
            b = p["bare_trafilatura"]
            lines.append(
                f"| {name}: bare trafilatura.extract | {p['documents_read']['input']} | | "
                f"{b['docs_per_s_median']} (best {b['docs_per_s_best']})"
                f" | shardyard A = {p['ceiling_share_median_wall']:.0%} of it"
                f" (CPU {p['ceiling_share_cpu']:.0%}); DataTrove A ="
                f" {p['datatrove_ceiling_share_median_wall']:.0%} | | |"
            )
    lines.append("")
    for name, p in result["pipelines"].items():
        lines.append(f"Per-step counts, pipeline {name} (shardyard / DataTrove):")
        lines.append("")
        for row in p["steps"]:
            if not row["counts"]:
                continue
            cells = ", ".join(
                f"{k} {v['shardyard']:g}/{v['datatrove']:g}" for k, v in row["counts"].items()
            )
            lines.append(f"- {row['step']}: {cells}")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.processing",
        description="Side-by-side benchmark of shardyard and DataTrove 0.10.1 on pipelines A "
        "(WARC -> Trafilatura -> Gopher repetition/quality -> language -> JSONL) and B "
        "(JSONL -> Gopher quality -> C4 quality -> JSONL), on a corpus of real data.",
        epilog="example: python -m bench.processing --jsonl-mb 10 --warc-replicas 2 "
        "--out bench/results",
    )
    ap.add_argument("--jsonl-mb", type=float, default=10, help="JSONL corpus size (MB)")
    ap.add_argument("--warc-replicas", type=int, default=2, help="copies of each HTML page")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="folder for processing.json")
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="corpus folder (reused)")
    ap.add_argument("--pipelines", default="B,A", help="comma-separated: B, A")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per side and pipeline")
    ap.add_argument("--limit", type=int, default=-1, help="read at most N documents")
    ap.add_argument("--warmup-docs", type=int, default=20, help="documents of the warm-up run")
    ap.add_argument("--timeout", type=float, default=1.0, help="extractor timeout per document")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare trafilatura ceiling")
    ap.add_argument("--datatrove-python", default=str(DEFAULT_DATATROVE_PYTHON))
    ap.add_argument("--workdir", help="keep every run's outputs and logs here")
    ap.add_argument("--side", help=argparse.SUPPRESS)  # internal: run one shardyard side
    args = ap.parse_args(argv)
    if args.side:
        return side_main(args.side)
    pipelines = [p.strip().upper() for p in args.pipelines.split(",") if p.strip()]
    if not pipelines or any(p not in STEPS for p in pipelines):
        ap.error(f"--pipelines takes a comma-separated subset of {sorted(STEPS)}")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    try:
        ensure_corpus(Path(args.corpus), jsonl_mb=args.jsonl_mb, warc_replicas=args.warc_replicas)
        workdir = Path(args.workdir) if args.workdir else None
        if workdir is not None:
            if workdir.exists():
                shutil.rmtree(workdir)
            workdir.mkdir(parents=True)
        result = run_benchmark(
            Path(args.corpus),
            pipelines=pipelines,
            repeats=args.repeats,
            limit=args.limit,
            warmup_docs=args.warmup_docs,
            timeout=args.timeout,
            bare=not args.no_bare,
            datatrove_python=Path(args.datatrove_python),
            workdir=workdir,
        )
    except (SideError, realdata.RealDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result["corpus"] = {"jsonl_mb": args.jsonl_mb, "warc_replicas": args.warc_replicas}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "processing.json").write_text(json.dumps(result, indent=2) + "\n")
    print(format_table(result))
    print(f"[processing] wrote {out / 'processing.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
