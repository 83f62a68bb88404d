"""DiskWriter contract (through JsonlWriter): names, templates, attacks, rolling, commit/abort."""

from __future__ import annotations

import gzip
import json
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from blocks.base import TaskContext
from blocks.document import Document
from blocks.errors import SpecError
from blocks.io import DataFolder
from blocks.pipeline import run_pipeline
from blocks.writers import JsonlWriter
from tests.blocks.writers.conftest import files_under


def _docs(n: int, **metadata: Any) -> list[Document]:
    return [Document(f"text number {i}", f"doc-{i}", dict(metadata)) for i in range(n)]


def _lines(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _write(writer: JsonlWriter, docs: Iterable[Document], rank: int = 0) -> None:
    for doc in docs:
        writer.write_document(doc, rank)
    writer.commit()


# -- names ---------------------------------------------------------------------------
def test_default_name_is_five_digit_rank_with_codec_suffix(tmp_path: Path) -> None:
    _write(JsonlWriter(str(tmp_path)), _docs(3), rank=7)
    assert files_under(tmp_path) == ["00007.jsonl.gz"]
    assert [r["id"] for r in _lines(tmp_path / "00007.jsonl.gz")] == ["doc-0", "doc-1", "doc-2"]


@pytest.mark.parametrize(
    ("compression", "expected"),
    [
        (None, "00000.jsonl"),
        ("gzip", "00000.jsonl.gz"),
        ("zstd", "00000.jsonl.zst"),
        ("bz2", "00000.jsonl.bz2"),
        ("xz", "00000.jsonl.xz"),
    ],
)
def test_compression_suffix_and_content(
    tmp_path: Path, compression: str | None, expected: str
) -> None:
    _write(JsonlWriter(str(tmp_path), compression=compression), _docs(2))
    assert files_under(tmp_path) == [expected]
    folder = DataFolder(str(tmp_path))
    with folder.open(expected, "rt", encoding="utf-8") as fh:  # codec inferred from the name
        assert [json.loads(line)["text"] for line in fh] == ["text number 0", "text number 1"]


def test_custom_name_gets_the_codec_suffix_and_infer_reads_the_name(tmp_path: Path) -> None:
    # DataTrove's rule: gzip content is never written under a name without .gz
    assert JsonlWriter(str(tmp_path), output_filename="${rank}.jsonl").output_filename.endswith(
        ".gz"
    )
    inferred = JsonlWriter(str(tmp_path), output_filename="${rank}.jsonl.zst", compression="infer")
    assert inferred.compression == "zstd"
    plain = JsonlWriter(str(tmp_path), output_filename="${rank}.jsonl", compression="infer")
    assert plain.compression is None and plain.output_filename == "${rank}.jsonl"
    with pytest.raises(ValueError, match="compression must be one of"):
        JsonlWriter(str(tmp_path), compression="snappy")


def test_templates_use_id_and_metadata(tmp_path: Path) -> None:
    docs = [
        Document("a", "x1", {"lang": "en", "year": 2024}),
        Document("b", "x2", {"lang": "fr", "year": 2023}),
        Document("c", "x3", {"lang": "en", "year": 2024}),
    ]
    _write(
        JsonlWriter(str(tmp_path), output_filename="${lang}/${year}/${rank}.jsonl"), docs, rank=3
    )
    assert files_under(tmp_path) == ["en/2024/00003.jsonl.gz", "fr/2023/00003.jsonl.gz"]
    assert [r["id"] for r in _lines(tmp_path / "en/2024/00003.jsonl.gz")] == ["x1", "x3"]
    _write(
        JsonlWriter(str(tmp_path / "by-id"), output_filename="${id}.json", compression=None), docs
    )
    assert files_under(tmp_path / "by-id") == ["x1.json", "x2.json", "x3.json"]


def test_rank_cannot_be_overridden_by_metadata(tmp_path: Path) -> None:
    _write(JsonlWriter(str(tmp_path)), [Document("a", "1", {"rank": "../../evil"})], rank=2)
    assert files_under(tmp_path) == ["00002.jsonl.gz"]


def test_missing_template_key_fails_loudly(tmp_path: Path) -> None:
    writer = JsonlWriter(str(tmp_path), output_filename="${lang}/${rank}.jsonl")
    with pytest.raises(SpecError, match="no metadata 'lang'"):
        writer.write_document(Document("a", "1", {}), 0)
    writer.abort()
    assert files_under(tmp_path) == []


# -- attacks: a template value never leaves the output folder ---------------------------
@pytest.mark.parametrize(
    "value",
    [
        "../../escaped",
        "..",
        ".",
        "",
        "/etc/passwd",
        "/",
        "a/../../b",
        "..\\..\\windows",
        "C:\\Windows\\system32",
        "sub/dir",
        "~",
        "${rank}",
    ],
)
def test_template_values_stay_inside_the_folder(tmp_path: Path, value: str) -> None:
    out = tmp_path / "out"
    writer = JsonlWriter(str(out), output_filename="${key}/${rank}.jsonl")
    _write(writer, [Document("t", "1", {"key": value})])
    files = files_under(tmp_path)
    assert all(f.startswith("out/") for f in files), files
    if value.startswith("C:"):  # a drive-letter name is refused rather than written
        assert files == [] and writer.stats.stats["error_unsafe_output_name"].n == 1
        return
    assert len(files) == 1
    relative = files[0][len("out/") :]
    component = relative.split("/")[0]
    assert relative.count("/") == 1  # the value is exactly one path component
    assert component not in ("", ".", "..") and "\\" not in component
    assert (out / relative).resolve().is_relative_to(out.resolve())


@pytest.mark.parametrize("value", ["a\x00b", "x" * 300, "é" * 200])
def test_unusable_names_cost_only_that_document(tmp_path: Path, value: str) -> None:
    writer = JsonlWriter(str(tmp_path), output_filename="${key}_${rank}.jsonl")
    docs = [Document("bad", "1", {"key": value}), Document("good", "2", {"key": "ok"})]
    _write(writer, docs)
    assert files_under(tmp_path) == ["ok_00000.jsonl.gz"]
    assert writer.stats.stats["error_unsafe_output_name"].n == 1
    assert writer.stats.stats["documents"].n == 1


@pytest.mark.parametrize(
    "template", ["../${rank}.jsonl", "/tmp/${rank}.jsonl", "a/../../${rank}.jsonl", "x\x00${rank}"]
)
def test_unsafe_templates_are_refused_up_front(tmp_path: Path, template: str) -> None:
    with pytest.raises(ValueError, match="not a safe relative path"):
        JsonlWriter(str(tmp_path), output_filename=template)


def test_a_template_without_rank_or_id_is_refused_for_several_tasks(tmp_path: Path) -> None:
    writer = JsonlWriter(str(tmp_path), output_filename="${lang}.jsonl")
    writer.bind(TaskContext(world_size=1))  # one task cannot collide with itself
    with pytest.raises(SpecError, match="overwrite each other"):
        writer.bind(TaskContext(rank=1, world_size=4))
    JsonlWriter(str(tmp_path), output_filename="${id}.jsonl").bind(TaskContext(world_size=4))


# -- records --------------------------------------------------------------------------
def test_metadata_nested_or_expanded(tmp_path: Path) -> None:
    doc = Document("hello", "1", {"url": "http://x", "text": "not the text", "score": 0.5})
    _write(JsonlWriter(str(tmp_path / "nested")), [Document(doc.text, doc.id, dict(doc.metadata))])
    (nested,) = _lines(tmp_path / "nested" / "00000.jsonl.gz")
    assert nested == {"text": "hello", "id": "1", "metadata": doc.metadata}
    _write(JsonlWriter(str(tmp_path / "flat"), expand_metadata=True), [doc])
    (flat,) = _lines(tmp_path / "flat" / "00000.jsonl.gz")
    assert flat == {"text": "hello", "id": "1", "url": "http://x", "score": 0.5}


def test_adapter_shapes_the_record(tmp_path: Path) -> None:
    def adapter(writer: JsonlWriter, doc: Document) -> dict[str, Any]:
        return {"content": doc.text.upper(), "n": len(doc.text)}

    _write(JsonlWriter(str(tmp_path), adapter=adapter), [Document("abc", "1")])
    assert _lines(tmp_path / "00000.jsonl.gz") == [{"content": "ABC", "n": 3}]


def test_values_json_cannot_hold_cost_only_that_document(tmp_path: Path) -> None:
    import datetime as dt

    import numpy as np

    writer = JsonlWriter(str(tmp_path))
    docs = [
        Document("a", "1", {"when": dt.date(2024, 1, 2), "n": np.int64(3), "tags": {"b", "a"}}),
        Document("b", "2", {"obj": object()}),
        Document("c", "3", cast(dict[str, Any], {1: "int key"})),
    ]
    _write(writer, docs)
    rows = _lines(tmp_path / "00000.jsonl.gz")
    assert [r["id"] for r in rows] == ["1", "3"]
    assert rows[0]["metadata"] == {"when": "2024-01-02", "n": 3, "tags": ["a", "b"]}
    assert rows[1]["metadata"] == {"1": "int key"}
    assert writer.stats.stats["error_unserializable"].n == 1


# -- rolling --------------------------------------------------------------------------
def test_max_file_size_rolls_with_datatrove_prefixes(tmp_path: Path) -> None:
    docs = [Document("x" * 100, f"{i:03d}", {"lang": "en"}) for i in range(25)]
    writer = JsonlWriter(
        str(tmp_path), output_filename="${lang}/${rank}.jsonl", compression=None, max_file_size=1000
    )
    _write(writer, docs, rank=1)
    files = files_under(tmp_path)
    assert files == [f"en/{k:03d}_00001.jsonl" for k in range(len(files))]
    assert len(files) > 2
    record_size = max(len(line) for f in files for line in (tmp_path / f).read_bytes().splitlines())
    ids: list[str] = []
    for f in files:
        size = (tmp_path / f).stat().st_size
        assert size < 1000 + record_size + 1  # rolled as soon as the limit is reached
        ids += [r["id"] for r in _lines(tmp_path / f)]
    assert ids == [d.id for d in docs]  # nothing lost or repeated, order kept


def test_a_new_shard_numbers_rolled_files_from_zero(tmp_path: Path) -> None:
    writer = JsonlWriter(str(tmp_path), compression=None, max_file_size=10)
    for attempt in range(2):
        writer.bind(TaskContext(attempt=attempt + 1))
        _write(writer, _docs(2))
    assert files_under(tmp_path) == ["000_00000.jsonl", "001_00000.jsonl"]


# -- temporary names, commit, abort ----------------------------------------------------
def test_outputs_stay_hidden_until_commit(tmp_path: Path) -> None:
    writer = JsonlWriter(str(tmp_path), max_file_size=50, compression=None)
    for doc in _docs(5):
        writer.write_document(doc)
    writer.close()
    before = files_under(tmp_path)
    assert before and all(f.startswith(".") and ".tmp-" in f for f in before)
    assert DataFolder(str(tmp_path)).list_files() == []  # readers never see them
    assert sorted(writer.pending_outputs) == [f"{k:03d}_00000.jsonl" for k in range(5)]
    writer.commit()
    assert files_under(tmp_path) == [f"{k:03d}_00000.jsonl" for k in range(5)]


def test_abort_removes_open_and_closed_temporary_files(tmp_path: Path) -> None:
    writer = JsonlWriter(str(tmp_path), output_filename="${lang}/${rank}.jsonl", max_file_size=40)
    for i, doc in enumerate(_docs(6)):
        doc.metadata["lang"] = "en" if i % 2 else "fr"
        writer.write_document(doc)
    assert files_under(tmp_path)  # rolled (closed) and open temporary files exist
    writer.abort()
    assert [f for f in files_under(tmp_path) if not f.endswith("/")] == []


def test_rerun_overwrites_the_same_final_names(tmp_path: Path) -> None:
    _write(JsonlWriter(str(tmp_path)), _docs(3))
    _write(JsonlWriter(str(tmp_path)), _docs(1))
    assert files_under(tmp_path) == ["00000.jsonl.gz"]
    assert len(_lines(tmp_path / "00000.jsonl.gz")) == 1


def _explode_after(n: int) -> Any:
    def step(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for i, doc in enumerate(data):
            if i == n:
                raise RuntimeError("shard failed midway")
            yield doc

    return step


def test_a_shard_that_raises_midway_leaves_nothing(tmp_path: Path) -> None:
    docs = _docs(50)
    writer = JsonlWriter(str(tmp_path), max_file_size=200)
    exclusion = JsonlWriter(str(tmp_path / "excluded"))
    from blocks.filters import LambdaFilter

    pipeline = [
        docs,
        LambdaFilter(lambda d: int(d.id.split("-")[1]) % 3 != 0, exclusion_writer=exclusion),
        writer,
        _explode_after(30),
    ]
    with pytest.raises(RuntimeError, match="midway"):
        run_pipeline(pipeline)
    assert writer.stats.stats["documents"].n > 10  # it did write (and roll) before failing
    assert files_under(tmp_path) == []  # no final name, no temporary file


def test_a_failing_commit_still_leaves_no_temporary_file(tmp_path: Path) -> None:
    class BrokenMove(DataFolder):
        moves = 0

        def move(self, src: str, dst: str) -> None:
            BrokenMove.moves += 1
            if BrokenMove.moves == 2:
                raise OSError("disk vanished")
            super().move(src, dst)

    writer = JsonlWriter(BrokenMove(str(tmp_path)), max_file_size=10, compression=None)
    for doc in _docs(3):
        writer.write_document(doc)
    with pytest.raises(OSError, match="vanished"):
        writer.commit()
    writer.abort()
    # the first file was already in place; the others were removed, none left hidden
    assert files_under(tmp_path) == ["000_00000.jsonl"]


def test_standalone_run_commits_at_the_end_and_aborts_when_stopped(tmp_path: Path) -> None:
    out = list(JsonlWriter(str(tmp_path / "full")).run(iter(_docs(4))))
    assert len(out) == 4 and files_under(tmp_path / "full") == ["00000.jsonl.gz"]

    stream = cast(Generator[Document], JsonlWriter(str(tmp_path / "stopped")).run(iter(_docs(4))))
    next(stream)
    stream.close()  # the consumer stopped early: not a finished shard
    assert files_under(tmp_path / "stopped") == []

    def failing() -> Iterator[Document]:
        yield from _docs(2)
        raise ValueError("reader broke")

    with pytest.raises(ValueError, match="reader broke"):
        list(JsonlWriter(str(tmp_path / "failed")).run(failing()))
    assert files_under(tmp_path / "failed") == []


def test_context_manager_commits_or_aborts(tmp_path: Path) -> None:
    with JsonlWriter(str(tmp_path / "ok")) as writer:
        writer.write_document(Document("a", "1"))
    assert files_under(tmp_path / "ok") == ["00000.jsonl.gz"]
    with pytest.raises(KeyError), JsonlWriter(str(tmp_path / "bad")) as writer:
        writer.write_document(Document("a", "1"))
        raise KeyError("boom")
    assert files_under(tmp_path / "bad") == []


def test_reruns_write_byte_identical_files_and_levels_apply(tmp_path: Path) -> None:
    docs = [Document("web text " * 50 + str(i), str(i)) for i in range(200)]
    for run in ("a", "b"):
        _write(JsonlWriter(str(tmp_path / run)), docs)
    first = (tmp_path / "a" / "00000.jsonl.gz").read_bytes()
    assert first == (tmp_path / "b" / "00000.jsonl.gz").read_bytes()  # no gzip timestamp
    _write(JsonlWriter(str(tmp_path / "fast"), compression_level=1), docs)
    fast = (tmp_path / "fast" / "00000.jsonl.gz").read_bytes()
    assert fast != first and gzip.decompress(fast) == gzip.decompress(first)
    for codec, suffix in (("zstd", "zst"), ("xz", "xz"), ("bz2", "bz2")):
        _write(JsonlWriter(str(tmp_path / codec), compression=codec, compression_level=1), docs)
        with DataFolder(str(tmp_path / codec)).open(f"00000.jsonl.{suffix}", "rt") as fh:
            assert [json.loads(line)["id"] for line in fh] == [d.id for d in docs]
