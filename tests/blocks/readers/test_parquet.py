"""ParquetReader: real texts, batches, columns, row-group byte ranges, corrupt files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.base import FileRange
from blocks.readers import ParquetReader
from tests.blocks.readers.conftest import cuts, read_all, stat


def _table(records: list[dict[str, Any]]) -> pa.Table:
    return pa.table(
        {
            "text": [r["text"] for r in records],
            "id": [r["id"] for r in records],
            "source": [r["metadata"]["source"] for r in records],
            "n_chars": [len(r["text"]) for r in records],
        }
    )


@pytest.fixture(scope="module")
def real_parquet(
    tmp_path_factory: pytest.TempPathFactory, real_texts: list[dict[str, Any]]
) -> Path:
    root = tmp_path_factory.mktemp("parquet")
    pq.write_table(_table(real_texts), root / "real.parquet", row_group_size=37)
    return root


def test_real_texts_with_metadata_columns(
    real_parquet: Path, real_texts: list[dict[str, Any]]
) -> None:
    reader = ParquetReader(str(real_parquet), batch_size=10)
    docs = read_all(reader)
    assert [(d.id, d.text) for d in docs] == [(r["id"], r["text"]) for r in real_texts]
    first = real_texts[0]
    assert docs[0].metadata == {
        "source": first["metadata"]["source"],
        "n_chars": len(first["text"]),
        "file_path": str(real_parquet / "real.parquet"),
    }
    assert stat(reader, "documents") == len(real_texts)


def test_read_metadata_false_reads_only_text_and_id(real_parquet: Path) -> None:
    docs = read_all(ParquetReader(str(real_parquet), read_metadata=False, limit=3))
    assert [set(d.metadata) for d in docs] == [{"file_path"}] * 3
    # a file without the id column still works (only existing columns are requested)
    pq.write_table(pa.table({"body": ["x", "y"]}), real_parquet.parent / "noid.parquet")
    docs = read_all(
        ParquetReader(
            str(real_parquet.parent),
            glob_pattern="noid.parquet",
            read_metadata=False,
            text_key="body",
        )
    )
    assert [(d.text, d.id) for d in docs] == [("x", "noid.parquet/0"), ("y", "noid.parquet/1")]


def test_rows_without_text_are_counted_and_ids_stay_row_indices(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": ["a", None, "", "d"]}), tmp_path / "t.parquet")
    reader = ParquetReader(str(tmp_path))
    docs = read_all(reader)
    assert [(d.text, d.id) for d in docs] == [("a", "t.parquet/0"), ("d", "t.parquet/3")]
    assert stat(reader, "error_missing_text") == 1 and stat(reader, "skipped_empty_text") == 1


@pytest.mark.parametrize(
    "content",
    [b"not a parquet file at all", b"PAR1" + b"\x00" * 100 + b"PAR1", "truncated", "corrupt page"],
)
def test_bad_parquet_files_are_counted_and_the_shard_goes_on(tmp_path: Path, content: Any) -> None:
    good = pa.table({"text": [f"row {i} " * 30 for i in range(300)]})
    pq.write_table(good, tmp_path / "b_good.parquet", compression="snappy")
    raw = (tmp_path / "b_good.parquet").read_bytes()
    if content == "truncated":
        content = raw[: len(raw) // 2]
    elif content == "corrupt page":
        content = raw[:100] + b"\xff" * 64 + raw[164:]
    (tmp_path / "a_bad.parquet").write_bytes(content)
    reader = ParquetReader(str(tmp_path))
    docs = read_all(reader)
    assert len(docs) == 300 and docs[0].metadata["file_path"].endswith("b_good.parquet")
    assert stat(reader, "error_corrupt_file") == 1


def test_a_missing_file_still_fails_the_shard(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_all(ParquetReader(str(tmp_path)), files=[FileRange("nope.parquet")])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=st.lists(st.integers(0, 10**7), max_size=10))
def test_any_byte_split_reads_every_row_group_exactly_once(
    real_parquet: Path, points: list[int]
) -> None:
    size = (real_parquet / "real.parquet").stat().st_size
    whole = [d.id for d in ParquetReader(str(real_parquet)).read_file("real.parquet")]
    pieces = [
        FileRange("real.parquet", a, b) for a, b in cuts(size, [p % (size + 1) for p in points])
    ]
    split = [d.id for d in read_all(ParquetReader(str(real_parquet)), files=pieces)]
    assert split == whole


def test_can_split_needs_several_row_groups(real_parquet: Path, tmp_path: Path) -> None:
    assert ParquetReader(str(real_parquet)).can_split("real.parquet")
    pq.write_table(pa.table({"text": ["a", "b"]}), tmp_path / "one.parquet")
    assert not ParquetReader(str(tmp_path)).can_split("one.parquet")
