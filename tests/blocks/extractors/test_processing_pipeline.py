"""Real pages through extraction, language id and token counting, from a spec, in one shard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blocks.document import Document
from blocks.extractors import Resiliparse, Trafilatura
from blocks.filters import LanguageFilter
from blocks.pipeline import run_pipeline
from blocks.spec import PipelineSpec, build_pipeline
from blocks.tokens import TokensCounter
from blocks.writers import JsonlWriter

pytest.importorskip("resiliparse")
pytest.importorskip("fasttext")
pytest.importorskip("tokenizers")


def test_html_to_counted_english_text_from_a_spec(
    real_pages: list[tuple[str, str]], tmp_path: Path
) -> None:
    from bench.realdata import ensure_sources

    tokenizer = str(ensure_sources(keys=("anthropic",)) / "tokenizers" / "anthropic.json")
    pages = [Document(html, name) for name, html in real_pages[::5]]
    blocks = [
        Resiliparse(timeout=30.0),
        LanguageFilter(languages=["en", "de"], language_threshold=0.5),
        TokensCounter(tokenizer),
        JsonlWriter(str(tmp_path / "out"), compression=None),
    ]
    spec = PipelineSpec.from_pipeline(blocks)
    rebuilt = build_pipeline(spec.stages[0])
    assert [type(b).__name__ for b in rebuilt] == [
        "Resiliparse",
        "LanguageFilter",
        "TokensCounter",
        "JsonlWriter",
    ]
    stats = run_pipeline([pages, *rebuilt])
    rows = [
        json.loads(line)
        for path in sorted((tmp_path / "out").iterdir())
        for line in path.read_text().splitlines()
    ]
    by_name = {b.name: b.stats for b in stats.blocks}
    assert len(rows) == by_name["LanguageFilter"]["forwarded"].n > 10
    assert all(r["metadata"]["language"] in ("en", "de") for r in rows)
    assert all(r["metadata"]["token_count"] > 0 for r in rows)
    assert by_name["Resiliparse"]["total"].n == len(pages)
    assert (
        sum(r["metadata"]["token_count"] for r in rows) == by_name["TokensCounter"]["tokens"].total
    )


def test_trafilatura_spec_round_trip_keeps_extra_options() -> None:
    spec = PipelineSpec.from_pipeline([Trafilatura(timeout=2.0, include_tables=False)])
    assert spec.to_json()["stages"][0]["pipeline"] == [
        {"Trafilatura": {"timeout": 2.0, "include_tables": False}}
    ]
    (block,) = build_pipeline(spec.stages[0])
    assert isinstance(block, Trafilatura) and block.kwargs == {"include_tables": False}
