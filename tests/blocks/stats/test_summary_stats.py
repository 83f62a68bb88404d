from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from blocks.base import TaskContext
from blocks.document import Document
from blocks.metrics import MetricStatsDict
from blocks.pipeline import execute, run_pipeline
from blocks.stats import (
    DocStats,
    LineStats,
    ParagraphStats,
    SentenceStats,
    StatsMerger,
    TopKConfig,
    WordStats,
)

HOSTS = [
    "https://www.nytimes.com/a",
    "http://bbc.co.uk/news/",
    "https://blog.example.org/p?q=1",
    "not a url",
]


def make_docs(n: int = 60, seed: int = 7) -> list[Document]:
    rng = random.Random(seed)
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "42",
        "...",
        "Hello",
        "WORLD!",
        "-",
        "item",
        "•",
        "bullet",
    ]
    docs = []
    for i in range(n):
        lines = [
            " ".join(rng.choice(words) for _ in range(rng.randint(0, 14)))
            for _ in range(rng.randint(1, 8))
        ]
        if i % 5 == 0:
            lines.append(lines[0])  # a duplicated line
        text = "\n".join(lines) + ("\n\n" + lines[-1] if i % 3 == 0 else "")
        docs.append(Document(text=text or "x", id=str(i), metadata={"url": HOSTS[i % len(HOSTS)]}))
    return docs


def stats_blocks(folder: Path) -> list:
    return [
        DocStats(str(folder)),
        LineStats(str(folder)),
        ParagraphStats(str(folder)),
        WordStats(str(folder)),
        SentenceStats(str(folder)),
    ]


def run_sharded(docs: list[Document], folder: Path, shards: int) -> None:
    for rank in range(shards):
        part = [Document(d.text, d.id, dict(d.metadata)) for d in docs]  # Documents shards by rank
        run_pipeline([part, *stats_blocks(folder)], TaskContext(rank=rank, world_size=shards))


def merged_tree(folder: Path, out: Path) -> dict[str, dict]:
    run_pipeline([StatsMerger(str(folder), str(out))])
    return {
        str(p.relative_to(out)): json.loads(p.read_text()) for p in sorted(out.rglob("metric.json"))
    }


def test_merged_shards_equal_whole_input(tmp_path: Path) -> None:
    docs = make_docs()
    run_sharded(docs, tmp_path / "one", 1)
    run_sharded(docs, tmp_path / "five", 5)
    whole = merged_tree(tmp_path / "one", tmp_path / "one-merged")
    sharded = merged_tree(tmp_path / "five", tmp_path / "five-merged")
    assert whole and whole == sharded
    assert "summary/length/metric.json" in whole
    assert "summary/n_words/metric.json" in whole and "fqdn/n_sentences/metric.json" in whole
    assert (
        "histogram/n_lines/metric.json" in whole and "histogram/n_lines_chars/metric.json" in whole
    )


def test_metric_json_loads_like_datatrove(tmp_path: Path) -> None:
    docs = make_docs()
    run_sharded(docs, tmp_path / "s", 3)
    merged_tree(tmp_path / "s", tmp_path / "m")
    with open(tmp_path / "m" / "fqdn" / "length" / "metric.json") as fh:
        stats = MetricStatsDict.from_dict(json.load(fh))
    nyt = [d for d in docs if "nytimes" in d.metadata["url"]]
    assert stats["www.nytimes.com"].n == len(nyt)
    assert stats["www.nytimes.com"].total == sum(len(d.text) for d in nyt)
    assert stats["www.nytimes.com"].mean == pytest.approx(sum(len(d.text) for d in nyt) / len(nyt))
    with open(tmp_path / "m" / "suffix" / "length" / "metric.json") as fh:
        suffixes = MetricStatsDict.from_dict(json.load(fh))
    assert set(suffixes) == {"com", "co.uk", "org", ""}
    with open(tmp_path / "m" / "summary" / "n_lines" / "metric.json") as fh:
        summary = MetricStatsDict.from_dict(json.load(fh))
    assert summary["summary"].total == sum(len(d.text.split("\n")) for d in docs)


def test_doc_metrics_match_definitions(tmp_path: Path) -> None:
    doc = Document("Ab 1...\n- x\n- x\n\nEnd.", "d", {"url": "https://a.example.com/"})
    list(DocStats(str(tmp_path)).run([doc]))
    list(LineStats(str(tmp_path)).run([doc]))
    text = doc.text
    assert doc.metadata["length"] == len(text)
    assert doc.metadata["digit_ratio"] == 1 / len(text)
    assert doc.metadata["uppercase_ratio"] == 2 / len(text)
    assert doc.metadata["non_alpha_digit_ratio"] == sum(
        1 for c in text if not c.isalpha() and not c.isdigit()
    ) / len(text)
    assert doc.metadata["elipsis_ratio"] == 3 / len(text)
    assert doc.metadata["n_lines"] == 5
    assert doc.metadata["line_duplicates"] == 1 / 5
    assert doc.metadata["bullet_point_lines_ratio"] == 2 / 5
    assert doc.metadata["fqdn"] == "a.example.com"


def test_top_k_keeps_most_frequent_hosts(tmp_path: Path) -> None:
    docs = [
        Document("t", str(i), {"url": f"https://h{i % 7 if i < 50 else 0}.example.com/"})
        for i in range(70)
    ]
    block = DocStats(
        str(tmp_path / "s"), groups_to_compute=["fqdn"], top_k_config=TopKConfig(["fqdn"], 2)
    )
    run_pipeline([docs, block])
    keys = set(json.loads((tmp_path / "s" / "fqdn" / "length" / "00000.json").read_text()))
    assert keys == {"h0.example.com", "h1.example.com"}


def test_failed_shard_leaves_no_stats_files(tmp_path: Path) -> None:
    def explode(data, rank=0, world_size=1):
        for i, doc in enumerate(data):
            if i == 5:
                raise RuntimeError("boom")
            yield doc

    steps = [make_docs(), DocStats(str(tmp_path)), explode]
    from blocks.pipeline import as_steps

    with pytest.raises(RuntimeError):
        execute(as_steps(steps), TaskContext())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
