"""TokenStats and LangStats with the real shipped models, merged like every summary stat."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from blocks.base import TaskContext
from blocks.document import Document
from blocks.metrics import MetricStatsDict
from blocks.pipeline import run_pipeline
from blocks.stats import LangStats, StatsMerger, TokenStats
from tests.helpers import require


@functools.lru_cache(maxsize=1)
def real_data() -> Path:
    try:
        from bench.realdata import RealDataError, ensure_sources

        return ensure_sources(keys=("anthropic", "gensim", "chardet"))
    except (ImportError, RealDataError, OSError) as err:
        require(False, f"real tokenizer/texts unavailable: {err}")
        raise AssertionError("unreachable") from err


def news_docs(n: int = 30) -> list[Document]:
    lines = (real_data() / "news" / "lee_background.cor").read_text(
        encoding="utf-8", errors="replace"
    )
    rows = [line for line in lines.splitlines() if line.strip()][:n]
    return [
        Document(t, f"n{i}", {"url": f"https://site{i % 3}.example.com/"})
        for i, t in enumerate(rows)
    ]


def test_token_stats_count_with_local_tokenizer(tmp_path: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    tok_path = str(real_data() / "tokenizers" / "anthropic.json")
    tok = tokenizers.Tokenizer.from_file(tok_path)
    docs = news_docs()
    for rank in range(2):
        part = [Document(d.text, d.id, dict(d.metadata)) for d in docs]
        run_pipeline(
            [part, TokenStats(str(tmp_path / "s"), tok_path)], TaskContext(rank=rank, world_size=2)
        )
    run_pipeline([StatsMerger(str(tmp_path / "s"), str(tmp_path / "m"))])
    with open(tmp_path / "m" / "summary" / "token_count" / "metric.json") as fh:
        summary = MetricStatsDict.from_dict(json.load(fh))["summary"]
    assert summary.n == len(docs)
    assert summary.total == sum(len(tok.encode(d.text).ids) for d in docs)


def test_token_stats_reuses_upstream_count(tmp_path: Path) -> None:
    doc = Document("some text", "x", {"token_count": 41, "url": "http://a.com"})
    list(TokenStats(str(tmp_path), "/nonexistent/tokenizer.json").run([doc]))
    assert doc.metadata["token_count"] == 41


def test_lang_stats_scores_english_news_high(tmp_path: Path) -> None:
    pytest.importorskip("fasttext")
    docs = news_docs(10)
    out = list(LangStats(str(tmp_path), language="en").run(docs))
    scores = [d.metadata["fasttext_en"] for d in out]
    assert min(scores) > 0.5
    german = Document(
        "Das ist ein ganz normaler deutscher Satz über das Wetter in Berlin.",
        "de",
        {"url": "http://a.de"},
    )
    list(LangStats(str(tmp_path / "de"), language="en").run([german]))
    assert german.metadata["fasttext_en"] < 0.2
