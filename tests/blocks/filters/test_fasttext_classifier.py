"""FastTextClassifierFilter with a tiny real fastText model trained on real texts (news vs wiki)."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from blocks.document import Document
from blocks.filters import FastTextClassifierFilter
from blocks.models import ModelError, load_fasttext
from blocks.spec import PipelineSpec, build_pipeline
from tests.helpers import require

fasttext = pytest.importorskip("fasttext")

REPO = Path(__file__).resolve().parents[3]
DATATROVE_PY = REPO / "bench" / ".venv-datatrove" / "bin" / "python"


@functools.lru_cache(maxsize=1)
def corpus() -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(label, text) rows to train on and (id, label, text) documents held out."""
    try:
        from bench.realdata import RealDataError, text_documents

        records = text_documents()
    except (ImportError, RealDataError, OSError) as err:
        require(False, f"real texts unavailable: {err}")
        raise AssertionError("unreachable") from err
    train: list[tuple[str, str]] = []
    held: list[tuple[str, str, str]] = []
    for i, rec in enumerate(r for r in records if r["metadata"]["source"] != "newspaper"):
        label = "wiki" if rec["metadata"]["source"] == "enwiki" else "news"
        if i % 2 == 0:
            train.append((label, rec["text"][:3000]))
        else:
            held.append((rec["id"], label, rec["text"]))
    return train, held


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    train, _ = corpus()
    folder = tmp_path_factory.mktemp("fasttext")
    rows = folder / "train.txt"
    rows.write_text(
        "".join(f"__label__{label} {text.replace(chr(10), ' ')}\n" for label, text in train),
        encoding="utf-8",
    )
    model = fasttext.train_supervised(
        str(rows), epoch=10, lr=0.5, dim=16, minCount=1, thread=1, seed=1, verbose=0
    )
    path = folder / "newswiki.bin"
    model.save_model(str(path))
    return str(path)


def held_docs(limit: int = 120) -> list[Document]:
    """Held-out documents, news and wiki alternating (fresh objects on every call)."""
    _, held = corpus()
    news = [row for row in held if row[1] == "news"]
    wiki = [row for row in held if row[1] == "wiki"]
    mixed = [row for pair in zip(news, wiki, strict=False) for row in pair] + news[len(wiki) :]
    return [Document(text, doc_id) for doc_id, _, text in mixed[:limit]]


def direct_scores(model_file: str, text: str, newline: str = "") -> dict[str, float]:
    labels, probs = load_fasttext(model_file).predict(text.strip().replace("\n", newline), k=-1)
    return {label: float(p) for label, p in zip(labels, probs, strict=True)}


def test_document_mode_keeps_by_label_and_annotates(model_file: str) -> None:
    truth = {doc_id: label for doc_id, label, _ in corpus()[1]}
    block = FastTextClassifierFilter(model_file, keep_labels=("wiki", 0.5))
    docs = held_docs()
    before = {d.id: direct_scores(model_file, d.text) for d in docs}
    kept = list(block.run(docs))
    assert {d.id for d in kept} == {i for i, s in before.items() if s["__label__wiki"] >= 0.5}
    assert sum(truth[d.id] == "wiki" for d in kept) >= 0.85 * len(kept) > 0
    for d in docs:  # every document, kept or not, carries both label scores
        assert {k: d.metadata[k] for k in before[d.id]} == before[d.id]
        if d not in kept:
            assert d.text == ""  # as DataTrove: a dropped document lost all its units
    assert block.stats.stats["kept_span"].n == len(kept)
    assert block.stats.stats["removed_span"].n == len(docs) - len(kept)


def test_remove_labels_is_the_complement(model_file: str) -> None:
    keep = {
        d.id
        for d in FastTextClassifierFilter(model_file, keep_labels=[("wiki", 0.5)]).run(held_docs())
    }
    remove = {
        d.id
        for d in FastTextClassifierFilter(model_file, remove_labels=[("wiki", 0.5)]).run(
            held_docs()
        )
    }
    assert keep and remove and keep.isdisjoint(remove)
    assert keep | remove == {d.id for d in held_docs()}


def test_annotate_only_and_no_metadata(model_file: str) -> None:
    docs = held_docs(20)
    assert len(list(FastTextClassifierFilter(model_file).run(docs))) == 20
    quiet = list(
        FastTextClassifierFilter(model_file, save_labels_in_metadata=False).run(held_docs(20))
    )
    assert len(quiet) == 20 and all(not d.metadata for d in quiet)


def test_paragraph_mode_keeps_the_wiki_paragraphs(model_file: str) -> None:
    _, held = corpus()
    news = next(t for _, label, t in held if label == "news")
    wiki = next(t for _, label, t in held if label == "wiki" and t.count("\n\n") >= 3)
    mixed = Document(f"{news}\n\n{wiki}\n", "mixed")
    block = FastTextClassifierFilter(model_file, keep_labels=("wiki", 0.5), filter_mode="paragraph")
    (out,) = block.run([mixed])
    assert news.strip() not in out.text and out.text  # the news paragraph went
    from blocks.text import split_paragraphs

    units = split_paragraphs(f"{news}\n\n{wiki}\n")
    kept = [u for u in units if direct_scores(model_file, u)["__label__wiki"] >= 0.5]
    assert out.text == "".join(kept)
    stats = block.stats.stats
    assert (stats["kept_span"].n, stats["removed_span"].n) == (len(kept), len(units) - len(kept))
    mean_wiki = sum(direct_scores(model_file, u)["__label__wiki"] for u in units) / len(units)
    assert out.metadata["__label__wiki"] == pytest.approx(mean_wiki, rel=1e-12)


def test_sentence_mode_and_newline_replacement(model_file: str) -> None:
    from blocks.text import split_sentences

    text = corpus()[1][0][2]
    block = FastTextClassifierFilter(
        model_file, remove_labels=("wiki", 0.5), filter_mode="SENTENCE", newline_replacement=" "
    )
    out = list(block.run([Document(text, "s")]))
    sentences = split_sentences(text)
    kept = [s for s in sentences if direct_scores(model_file, s, " ")["__label__wiki"] < 0.5]
    assert [d.text for d in out] == (["".join(kept)] if "".join(kept).strip() else [])
    assert block.stats.stats["kept_span"].n + block.stats.stats["removed_span"].n == len(sentences)


def test_models_from_urls_are_cached_locally(
    model_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fsspec

    monkeypatch.setenv("SHARDYARD_MODEL_CACHE", str(tmp_path / "cache"))
    with fsspec.open("memory://models/newswiki.bin", "wb") as fh:
        fh.write(Path(model_file).read_bytes())
    doc = held_docs(1)[0]
    remote = FastTextClassifierFilter(model_url="memory://models/newswiki.bin")
    local = FastTextClassifierFilter(model_path=f"file://{model_file}")
    a, b = next(remote.run([doc])), next(local.run([Document(doc.text, doc.id)]))
    assert a.metadata == b.metadata
    assert [p.name.endswith("newswiki.bin") for p in (tmp_path / "cache").iterdir()] == [True]


def test_configuration_errors(model_file: str) -> None:
    with pytest.raises(ValueError, match="only supply one"):
        FastTextClassifierFilter(model_file, keep_labels=("a", 0.1), remove_labels=("b", 0.1))
    with pytest.raises(ValueError, match="exactly one"):
        FastTextClassifierFilter()
    with pytest.raises(ValueError, match="filter_mode"):
        FastTextClassifierFilter(model_file, filter_mode="WORDS")
    with pytest.raises(ValueError, match="pairs"):
        FastTextClassifierFilter(model_file, keep_labels=[("a", 0.1), "b"])  # type: ignore[list-item]
    for bad in ({"keep_labels": ("math", 0.9)}, {"remove_labels": [("news", 0.5), ("math", 0.9)]}):
        block = FastTextClassifierFilter(model_file, **bad)
        with pytest.raises(ModelError, match="math"):
            list(block.run(held_docs(1)))
    with pytest.raises(ModelError, match="not found"):
        list(FastTextClassifierFilter("/nonexistent/model.bin").run(held_docs(1)))


def test_builds_from_a_yaml_spec(model_file: str) -> None:
    spec = PipelineSpec.from_dict(
        {
            "name": "q",
            "stages": [
                {
                    "name": "s",
                    "tasks": 1,
                    "pipeline": [
                        {
                            "FastTextClassifierFilter": {
                                "model_url": model_file,
                                "keep_labels": [["wiki", 0.9]],
                                "filter_mode": "paragraph",
                            }
                        }
                    ],
                }
            ],
        }
    )
    (block,) = build_pipeline(spec.stages[0])
    assert isinstance(block, FastTextClassifierFilter)
    assert block.keep_labels == [("wiki", 0.9)] and block.filter_mode == "PARAGRAPH"


_DATATROVE_SCRIPT = """
import json, sys
from datatrove.data import Document
from datatrove.pipeline.filters import FastTextClassifierFilter
# fasttext-community in the bench venv stands in for fasttext-numpy2-wheel (same module).
FastTextClassifierFilter._requires_dependencies = []
args = json.loads(sys.argv[1])
block = FastTextClassifierFilter(**args)
out = {}
for row in map(json.loads, sys.stdin):
    doc = Document(row["text"], row["id"])
    keep = bool(block.filter(doc))
    out[row["id"]] = [keep, doc.text, doc.metadata]
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        {"keep_labels": [["wiki", 0.5]]},
        {"remove_labels": [["wiki", 0.3]], "filter_mode": "PARAGRAPH", "newline_replacement": " "},
    ],
)
def test_same_output_as_datatrove(model_file: str, tmp_path: Path, args: dict[str, Any]) -> None:
    if not DATATROVE_PY.exists():
        pytest.skip("DataTrove venv absent: make bench (bash bench/datatrove_env.sh)")
    args = {"model_url": model_file, **args}
    docs = held_docs(80)
    rows = "\n".join(json.dumps({"id": d.id, "text": d.text}) for d in docs)
    proc = subprocess.run(
        [str(DATATROVE_PY), "-c", _DATATROVE_SCRIPT, json.dumps(args)],
        input=rows,
        capture_output=True,
        text=True,
        env={"HF_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout)
    block = FastTextClassifierFilter(**args)
    ours = {}
    for d in docs:
        keep = bool(block.filter(d))
        ours[d.id] = [keep, d.text, d.metadata]
    assert ours == theirs
