"""JsonlReader on real texts, every compression, corrupt input, and byte-range splits."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.base import FileRange
from blocks.readers import JsonlReader
from tests.blocks.readers.conftest import cuts, read_all, stat


def _lines(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


def _compress(data: bytes, codec: str) -> bytes:
    if codec == "gz":
        return gzip.compress(data)
    if codec == "bz2":
        return bz2.compress(data)
    if codec == "zst":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


@pytest.mark.parametrize("codec", ["", "gz", "bz2", "zst"])
def test_real_texts_read_back_exactly(
    tmp_path: Path, real_texts: list[dict[str, Any]], codec: str
) -> None:
    name = "docs.jsonl" + (f".{codec}" if codec else "")
    records = real_texts if not codec else real_texts[::5]  # bz2 is slow to write
    (tmp_path / name).write_bytes(_compress(_lines(records), codec))
    docs = read_all(JsonlReader(str(tmp_path)))
    assert [(d.id, d.text) for d in docs] == [(r["id"], r["text"]) for r in records]
    assert docs[0].metadata == {**real_texts[0]["metadata"], "file_path": str(tmp_path / name)}


def test_explicit_compression_overrides_the_extension(tmp_path: Path) -> None:
    (tmp_path / "docs.data").write_bytes(gzip.compress(_lines([{"text": "a"}])))
    assert [d.text for d in read_all(JsonlReader(str(tmp_path), compression="gzip"))] == ["a"]


def test_corrupt_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    raw = b"".join(
        [
            b'{"text": "one"}\n',
            b'{"text": "two",\n',  # bad JSON
            b"[1, 2]\n",  # JSON but not an object
            b'{"text": "caf\xe9"}\n',  # latin-1 byte: not UTF-8
            b'{"id": "no-text"}\n',  # missing text key
            b"\n",
            b'{"text": "three"}\n',
        ]
    )
    (tmp_path / "bad.jsonl").write_bytes(raw)
    reader = JsonlReader(str(tmp_path))
    assert [d.text for d in read_all(reader)] == ["one", "three"]
    assert stat(reader, "error_bad_json") == 2
    assert stat(reader, "error_decode") == 1
    assert stat(reader, "error_missing_text") == 1


def test_truncated_gzip_tail_ends_the_file_and_the_shard_goes_on(tmp_path: Path) -> None:
    records = [{"text": f"document number {i} " * 20} for i in range(2000)]
    data = gzip.compress(_lines(records))
    (tmp_path / "a.jsonl.gz").write_bytes(data[: len(data) * 2 // 3])
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(_lines([{"text": "after"}])))
    reader = JsonlReader(str(tmp_path))
    docs = read_all(reader)
    assert 0 < len(docs) - 1 < len(records)
    assert [d.text for d in docs[:-1]] == [r["text"] for r in records[: len(docs) - 1]]
    assert docs[-1].text == "after"
    assert stat(reader, "error_truncated_file") == 1
    assert stat(reader, "input_files") == 2


def test_garbage_in_a_gzip_file_is_a_corrupt_file(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(_lines([{"text": f"x{i}" * 50} for i in range(500)])))
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    (tmp_path / "a.jsonl.gz").write_bytes(bytes(data))
    reader = JsonlReader(str(tmp_path))
    read_all(reader)
    assert stat(reader, "error_corrupt_file") + stat(reader, "error_truncated_file") == 1


def test_can_split_only_uncompressed(tmp_path: Path) -> None:
    reader = JsonlReader(str(tmp_path))
    assert reader.can_split("a.jsonl") and not reader.can_split("a.jsonl.gz")
    assert not JsonlReader(str(tmp_path), compression="zstd").can_split("a.jsonl")
    with pytest.raises(ValueError, match="compressed"):
        list(reader.read_range("a.jsonl.gz", 0, 10))


@pytest.fixture(scope="module")
def split_file(tmp_path_factory: pytest.TempPathFactory, real_texts: list[dict[str, Any]]) -> Path:
    """Real texts (some records without id) plus blank and corrupt lines, CRLF endings."""
    root = tmp_path_factory.mktemp("split")
    records = [dict(r) for r in real_texts[:60]]
    for r in records[::7]:
        del r["id"]
    raw = _lines(records).replace(b"\n", b"\r\n", 5)
    lines = raw.split(b"\n")
    lines.insert(50, b"")
    lines.insert(100, b'{"broken"')
    (root / "real.jsonl").write_bytes(b"\n".join(lines))
    return root


_WHOLE: dict[Path, list[Any]] = {}


def _whole(root: Path) -> list[Any]:
    if root not in _WHOLE:
        _WHOLE[root] = read_all(JsonlReader(str(root)))
    return _WHOLE[root]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=st.lists(st.integers(0, 10**9), max_size=12), data=st.data())
def test_any_byte_split_reads_every_line_exactly_once(
    split_file: Path, points: list[int], data: Any
) -> None:
    reader = JsonlReader(str(split_file))
    size = (split_file / "real.jsonl").stat().st_size
    # cut points anywhere, including right at line starts and inside multi-byte characters
    points = [p % (size + 1) for p in points] + data.draw(
        st.lists(st.integers(0, size), max_size=4)
    )
    whole = _whole(split_file)
    pieces = [FileRange("real.jsonl", a, b) for a, b in cuts(size, points)]
    split = read_all(reader, files=pieces)
    assert [d.text for d in split] == [d.text for d in whole]
    assert stat(reader, "error_bad_json") == 1
    # ids: a record's own id, else its byte offset, the same whatever the split
    again = read_all(JsonlReader(str(split_file)), files=[FileRange("real.jsonl", 0, size)])
    assert [d.id for d in split] == [d.id for d in again]


def test_byte_range_ids_use_offsets_for_records_without_id(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "a"}\n{"text": "b"}\n')
    docs = list(JsonlReader(str(tmp_path)).read_range("a.jsonl", 1, 100))
    assert [(d.text, d.id) for d in docs] == [("b", "a.jsonl/b14")]
