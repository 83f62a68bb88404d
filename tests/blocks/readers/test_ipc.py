"""IpcReader: Arrow IPC file and stream formats, a Hugging Face datasets file, corruption."""

from __future__ import annotations

import json
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


def _hf_cache_file(path: Path, records: list[dict[str, Any]]) -> None:
    """An ``.arrow`` file laid out like a Hugging Face ``datasets`` cache/``save_to_disk``
    shard: the IPC *stream* format with the features in the schema's ``huggingface``
    metadata (what ``datasets.arrow_writer.ArrowWriter`` writes; checked by hand against
    a file written by ``datasets`` 5.2.0, which is not a dependency of the project)."""
    features = {
        "text": {"dtype": "string", "_type": "Value"},
        "url": {"dtype": "string", "_type": "Value"},
    }
    table = pa.table({"text": [r["text"] for r in records], "url": [r["id"] for r in records]})
    schema = table.schema.with_metadata(
        {"huggingface": json.dumps({"info": {"features": features}})}
    )
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for batch in table.cast(schema).to_batches(max_chunksize=1000):
            writer.write_batch(batch)


def test_hugging_face_datasets_arrow_file(tmp_path: Path, real_texts: list[dict[str, Any]]) -> None:
    records = real_texts[:120]
    (tmp_path / "ds").mkdir()
    _hf_cache_file(tmp_path / "ds" / "data-00000-of-00001.arrow", records)
    (tmp_path / "ds" / "state.json").write_text("{}")  # save_to_disk's side files are not inputs
    reader = IpcReader(str(tmp_path / "ds"), glob_pattern="*.arrow")
    docs = read_all(reader)
    assert [d.text for d in docs] == [r["text"] for r in records]
    assert (
        docs[3].id == "data-00000-of-00001.arrow/3" and docs[3].metadata["url"] == records[3]["id"]
    )


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
