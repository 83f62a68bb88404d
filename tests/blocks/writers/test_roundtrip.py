"""Reader -> writer -> reader round trips on real texts, for every format we read and write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pytest

from blocks.base import PipelineStep, TaskContext
from blocks.document import Document
from blocks.pipeline import run_pipeline
from blocks.readers import CsvReader, IpcReader, JsonlReader, ParquetReader
from blocks.writers import JsonlWriter, ParquetWriter
from tests.blocks.writers.conftest import files_under, load_with_hf_datasets

Triple = tuple[str, str, dict[str, Any]]


def _triples(docs: list[Document]) -> list[Triple]:
    return [(d.text, d.id, d.metadata) for d in docs]


def _read(reader: PipelineStep, world_size: int = 1) -> list[Document]:
    out: list[Document] = []
    for rank in range(world_size):
        ctx = TaskContext(rank=rank, world_size=world_size)
        reader.bind(ctx)
        out += list(reader.run(None, rank, world_size))
    return out


def _copy(docs: list[Document]) -> list[Document]:
    return [Document(d.text, d.id, dict(d.metadata)) for d in docs]


def _write_shards(docs: list[Document], make_writer: Any, shards: int) -> None:
    """Write ``docs`` as ``shards`` ranks, each through the in-process runner."""
    for rank in range(shards):
        ctx = TaskContext(rank=rank, world_size=shards)
        run_pipeline([_copy(docs), make_writer()], ctx)


def test_jsonl_round_trip(tmp_path: Path, real_docs: list[Document]) -> None:
    _write_shards(real_docs, lambda: JsonlWriter(str(tmp_path), max_file_size=100_000), shards=3)
    files = files_under(tmp_path)
    assert len(files) > 3 and all(f.endswith(".jsonl.gz") for f in files)
    back = _read(JsonlReader(str(tmp_path), add_file_path=False))
    # documents are dealt round-robin over ranks; compare as sets of records
    assert sorted(_triples(back)) == sorted(_triples(real_docs))


@pytest.mark.parametrize("expand", [False, True])
def test_parquet_round_trip(tmp_path: Path, real_docs: list[Document], expand: bool) -> None:
    _write_shards(
        real_docs,
        lambda: ParquetWriter(str(tmp_path), batch_size=50, expand_metadata=expand),
        shards=2,
    )
    assert files_under(tmp_path) == ["00000.parquet", "00001.parquet"]
    back = _read(ParquetReader(str(tmp_path), add_file_path=False), world_size=2)
    assert sorted(_triples(back)) == sorted(_triples(real_docs))


def _arrow_table(docs: list[Document]) -> pa.Table:
    return pa.table(
        {
            "text": [d.text for d in docs],
            "id": [d.id for d in docs],
            "source": [d.metadata["source"] for d in docs],
        }
    )


@pytest.mark.parametrize("stream", [True, False])
def test_ipc_to_jsonl_to_parquet(tmp_path: Path, real_docs: list[Document], stream: bool) -> None:
    table = _arrow_table(real_docs)
    src = tmp_path / "in"
    src.mkdir()
    with pa.OSFile(str(src / "part.arrow"), "wb") as sink:
        new = ipc.new_stream if stream else ipc.new_file
        with new(sink, table.schema) as w:
            for batch in table.to_batches(max_chunksize=100):
                w.write_batch(batch)
    run_pipeline([IpcReader(str(src), add_file_path=False), JsonlWriter(str(tmp_path / "jsonl"))])
    run_pipeline(
        [
            JsonlReader(str(tmp_path / "jsonl"), add_file_path=False),
            ParquetWriter(str(tmp_path / "pq")),
        ]
    )
    back = _read(ParquetReader(str(tmp_path / "pq"), add_file_path=False))
    assert _triples(back) == _triples(real_docs)  # one shard: order kept end to end


def test_csv_to_parquet_to_jsonl(tmp_path: Path, real_docs: list[Document]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    pacsv.write_csv(_arrow_table(real_docs), str(src / "part.csv"))
    run_pipeline(
        [
            CsvReader(str(src), add_file_path=False),
            ParquetWriter(str(tmp_path / "pq"), batch_size=77),
        ]
    )
    run_pipeline(
        [
            ParquetReader(str(tmp_path / "pq"), add_file_path=False),
            JsonlWriter(str(tmp_path / "jsonl")),
        ]
    )
    back = _read(JsonlReader(str(tmp_path / "jsonl"), add_file_path=False))
    assert _triples(back) == _triples(real_docs)


@pytest.mark.slow
def test_parquet_from_every_reader_loads_with_hf_datasets(
    tmp_path: Path, real_docs: list[Document]
) -> None:
    """What the IPC/CSV/JSONL round trips wrote loads in HF ``datasets`` as the same rows."""
    src = tmp_path / "in"
    src.mkdir()
    with (
        pa.OSFile(str(src / "part.arrow"), "wb") as sink,
        ipc.new_stream(sink, _arrow_table(real_docs).schema) as w,
    ):
        w.write_table(_arrow_table(real_docs))
    run_pipeline([IpcReader(str(src), add_file_path=False), ParquetWriter(str(tmp_path / "pq"))])
    loaded = load_with_hf_datasets([str(tmp_path / "pq" / "00000.parquet")], tmp_path / "hf")
    assert [(r["text"], r["id"], r["metadata"]) for r in loaded["rows"]] == _triples(real_docs)
