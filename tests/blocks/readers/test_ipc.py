"""IpcReader: Arrow IPC file and stream formats, a Hugging Face datasets file, corruption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from blocks.readers import IpcReader
from tests.blocks.readers.conftest import read_all, stat


def _table(records: list[dict[str, Any]]) -> pa.Table:
    return pa.table(
        {
            "text": [r["text"] for r in records],
            "id": [r["id"] for r in records],
            "source": [r["metadata"]["source"] for r in records],
        }
    )


def _write(path: Path, table: pa.Table, stream: bool) -> None:
    with pa.OSFile(str(path), "wb") as sink:
        opener = pa.ipc.new_stream if stream else pa.ipc.new_file
        with opener(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=50):
                writer.write_batch(batch)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("declared", [None, "match"])
def test_both_formats_read_real_texts(
    tmp_path: Path, real_texts: list[dict[str, Any]], stream: bool, declared: str | None
) -> None:
    _write(tmp_path / "real.arrow", _table(real_texts), stream)
    reader = IpcReader(str(tmp_path), stream=stream if declared else None)
    docs = read_all(reader)
    assert [(d.id, d.text) for d in docs] == [(r["id"], r["text"]) for r in real_texts]
    assert docs[0].metadata["source"] == real_texts[0]["metadata"]["source"]


def test_forcing_the_wrong_format_is_a_corrupt_file(
    tmp_path: Path, real_texts: list[dict[str, Any]]
) -> None:
    _write(tmp_path / "a.arrow", _table(real_texts[:10]), stream=True)
    reader = IpcReader(str(tmp_path), stream=False)  # DataTrove's default cannot read streams
    assert read_all(reader) == []
    assert stat(reader, "error_corrupt_file") == 1


@pytest.mark.slow  # importing datasets takes seconds
def test_hugging_face_datasets_arrow_file(tmp_path: Path, real_texts: list[dict[str, Any]]) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"text": [r["text"] for r in real_texts[:120]], "url": [r["id"] for r in real_texts[:120]]}
    )
    ds.save_to_disk(str(tmp_path / "ds"))
    reader = IpcReader(str(tmp_path / "ds"), glob_pattern="*.arrow")
    docs = read_all(reader)
    assert [d.text for d in docs] == [r["text"] for r in real_texts[:120]]
    assert docs[3].id.endswith(".arrow/3") and docs[3].metadata["url"] == real_texts[3]["id"]


def test_truncated_file_keeps_whole_batches_and_counts_the_error(
    tmp_path: Path, real_texts: list[dict[str, Any]]
) -> None:
    _write(tmp_path / "a.arrow", _table(real_texts), stream=True)
    data = (tmp_path / "a.arrow").read_bytes()
    (tmp_path / "a.arrow").write_bytes(data[: len(data) // 2])
    (tmp_path / "b.arrow").write_bytes(b"not arrow at all")
    reader = IpcReader(str(tmp_path))
    docs = read_all(reader)
    assert 0 < len(docs) < len(real_texts) and len(docs) % 50 == 0  # whole batches only
    assert stat(reader, "error_corrupt_file") == 2
