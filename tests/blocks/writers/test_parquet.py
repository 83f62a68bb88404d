"""ParquetWriter: readable by pyarrow and HF datasets, batches, codecs, schema drift, rolling."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from blocks.base import DocumentsSource, FunctionStep, TaskContext
from blocks.document import Document
from blocks.pipeline import execute, run_pipeline
from blocks.writers import ParquetWriter
from tests.blocks.writers.conftest import files_under, load_with_hf_datasets


def _write(writer: ParquetWriter, docs: list[Document], rank: int = 0) -> ParquetWriter:
    for doc in docs:
        writer.write_document(doc, rank)
    writer.commit()
    return writer


def _rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()


def test_real_documents_round_trip_through_pyarrow(
    tmp_path: Path, real_docs: list[Document]
) -> None:
    writer = ParquetWriter(str(tmp_path), batch_size=100)
    run_pipeline([real_docs, writer])
    assert files_under(tmp_path) == ["00000.parquet"]
    table = pq.read_table(tmp_path / "00000.parquet")
    assert table.column_names == ["text", "id", "metadata"]
    assert table.schema.field("metadata").type == pa.struct([("source", pa.string())])
    assert table.to_pylist() == [
        {"text": d.text, "id": d.id, "metadata": d.metadata} for d in real_docs
    ]
    meta = pq.ParquetFile(tmp_path / "00000.parquet").metadata
    assert meta.num_row_groups == -(-len(real_docs) // 100)  # one row group per batch
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    assert writer.stats.stats["documents"].n == len(real_docs)
    # pyarrow.dataset (what most engines use) reads the folder as one table too
    assert pads.dataset(str(tmp_path), format="parquet").count_rows() == len(real_docs)


@pytest.mark.slow
def test_output_loads_with_hf_datasets(tmp_path: Path, real_docs: list[Document]) -> None:
    out = tmp_path / "out"
    for rank in range(2):  # two shards' files load as one dataset
        writer = ParquetWriter(str(out), batch_size=64, compression="zstd")
        _write(writer, real_docs[rank::2], rank=rank)
    files = sorted(str(out / f) for f in files_under(out))
    loaded = load_with_hf_datasets(files, tmp_path / "hf")
    assert loaded["columns"] == ["text", "id", "metadata"]
    assert len(loaded["rows"]) == len(real_docs)
    expected = {d.id: (d.text, d.metadata) for d in real_docs}
    assert {r["id"]: (r["text"], r["metadata"]) for r in loaded["rows"]} == expected


@pytest.mark.parametrize(
    ("compression", "codec"),
    [
        ("snappy", "SNAPPY"),
        ("zstd", "ZSTD"),
        ("gzip", "GZIP"),
        ("none", "UNCOMPRESSED"),
        (None, "UNCOMPRESSED"),
    ],
)
def test_codecs(tmp_path: Path, compression: Any, codec: str) -> None:
    _write(ParquetWriter(str(tmp_path), compression=compression), [Document("a" * 500, "1")])
    assert files_under(tmp_path) == ["00000.parquet"]  # the codec never changes the name
    meta = pq.ParquetFile(tmp_path / "00000.parquet").metadata
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {codec}
    with pytest.raises(ValueError, match="compression must be one of"):
        ParquetWriter(str(tmp_path), compression=cast(Any, "bz2"))
    with pytest.raises(ValueError, match="batch_size"):
        ParquetWriter(str(tmp_path), batch_size=0)


def test_expanded_metadata_becomes_columns(tmp_path: Path) -> None:
    docs = [
        Document("a", "1", {"url": "http://a", "score": 0.5}),
        Document("b", "2", {"url": "http://b", "score": 1}),
    ]
    _write(ParquetWriter(str(tmp_path), expand_metadata=True), docs)
    table = pq.read_table(tmp_path / "00000.parquet")
    assert table.column_names == ["text", "id", "url", "score"]
    assert table.schema.field("score").type == pa.float64()  # 0.5 and 1 unify to double
    assert table.column("score").to_pylist() == [0.5, 1.0]


def test_schema_comes_from_the_first_batch_and_later_drift_is_counted(tmp_path: Path) -> None:
    first = [Document(f"t{i}", str(i), {"lang": "en", "n": i}) for i in range(4)]
    later = [
        Document("missing key", "m", {"lang": "fr"}),  # n -> null
        Document("new key", "k", {"lang": "de", "n": 1, "extra": "x"}),  # extra dropped
        Document("lossy", "l", {"lang": "it", "n": 1.5}),  # 1.5 never truncated to 1
        Document("wrong type", "w", {"lang": "es", "n": "seven"}),
        Document("fine", "f", {"lang": "pt", "n": 9}),
    ]
    writer = _write(ParquetWriter(str(tmp_path), batch_size=4), first + later)
    table = pq.read_table(tmp_path / "00000.parquet")
    assert table.schema.field("metadata").type == pa.struct(
        [("lang", pa.string()), ("n", pa.int64())]
    )
    rows = {r["id"]: r["metadata"] for r in table.to_pylist()}
    assert rows["m"] == {"lang": "fr", "n": None}
    assert rows["k"] == {"lang": "de", "n": 1}
    assert rows["f"] == {"lang": "pt", "n": 9}
    assert "l" not in rows and "w" not in rows
    stats = writer.stats.stats
    assert stats["error_schema_mismatch"].n == 2
    assert stats["schema_dropped_metadata.extra"].total == 1
    assert table.num_rows == len(first) + 3


def test_empty_metadata_and_null_columns_are_storable(tmp_path: Path) -> None:
    docs = [Document("a", "1", {}), Document("b", "2", {"nested": {}, "none": None})]
    writer = _write(
        ParquetWriter(str(tmp_path), batch_size=2), [*docs, Document("c", "3", {"none": "late"})]
    )
    table = pq.read_table(tmp_path / "00000.parquet")
    # Parquet cannot store a struct without fields: the empty parts are left out
    assert table.schema.field("metadata").type == pa.struct([("none", pa.null())])
    assert table.num_rows == 3
    assert writer.stats.stats["schema_dropped_metadata.none"].total == 1


def test_heterogeneous_first_batch_unifies_row_by_row(tmp_path: Path) -> None:
    docs = [
        Document("a", "1", {"v": 1}),
        Document("b", "2", {"v": "text"}),  # conflicts with int: refused, the rest kept
        Document("c", "3", {"v": 2.5, "w": [1, 2]}),
    ]
    writer = _write(ParquetWriter(str(tmp_path)), docs)
    rows = _rows(tmp_path / "00000.parquet")
    assert [(r["id"], r["metadata"]) for r in rows] == [
        ("1", {"v": 1.0, "w": None}),
        ("3", {"v": 2.5, "w": [1, 2]}),
    ]
    assert writer.stats.stats["error_schema_mismatch"].n == 1


def test_explicit_schema_is_used_for_every_file(tmp_path: Path) -> None:
    schema = pa.schema(
        [
            ("text", pa.large_string()),
            ("id", pa.string()),
            ("metadata", pa.struct([("score", pa.float32())])),
        ]
    )
    docs = [Document("a", "1", {"score": 1}), Document("b", "2", {})]
    _write(ParquetWriter(str(tmp_path), schema=schema), docs)
    table = pq.read_table(tmp_path / "00000.parquet")
    assert table.schema == schema
    assert table.column("metadata").to_pylist() == [{"score": 1.0}, {"score": None}]


def test_a_file_whose_records_were_all_refused_is_still_valid(tmp_path: Path) -> None:
    schema = pa.schema([("text", pa.string()), ("id", pa.int64())])
    writer = _write(ParquetWriter(str(tmp_path), schema=schema), [Document("a", "not-an-int")])
    table = pq.read_table(tmp_path / "00000.parquet")
    assert table.num_rows == 0 and table.schema == schema
    assert writer.stats.stats["error_schema_mismatch"].n == 1


def test_max_file_size_rolls_between_batches(tmp_path: Path) -> None:
    docs = [Document(os.urandom(2000).hex(), str(i)) for i in range(40)]
    writer = ParquetWriter(str(tmp_path), batch_size=5, compression="none", max_file_size=15_000)
    _write(writer, docs, rank=3)
    files = files_under(tmp_path)
    assert len(files) > 2
    assert files == [f"{k:03d}_00003.parquet" for k in range(len(files))]
    ids = []
    for f in files:
        pf = pq.ParquetFile(tmp_path / f)
        # a file stops growing once a flushed batch takes it past the limit
        assert pf.metadata.num_row_groups <= -(-15_000 // (5 * 4000)) + 1
        ids += pf.read().column("id").to_pylist()
    assert ids == [d.id for d in docs]
    # all the files of a shard share one schema, so they load as one dataset
    assert pads.dataset(str(tmp_path), format="parquet").count_rows() == len(docs)


def test_failed_shard_leaves_neither_final_nor_temporary_files(tmp_path: Path) -> None:
    writer = ParquetWriter(str(tmp_path), batch_size=3, max_file_size=1)

    def explode(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for i, doc in enumerate(data):
            if i == 10:
                raise RuntimeError("worker lost")
            yield doc

    docs = [Document(f"text {i}", str(i)) for i in range(20)]
    steps = [DocumentsSource(docs), writer, FunctionStep(explode)]
    with pytest.raises(RuntimeError, match="worker lost"):
        execute(steps, TaskContext())
    assert writer.stats.stats["documents"].n == 11  # rolled files existed before the failure
    assert files_under(tmp_path) == []


def test_metadata_templates_write_one_file_per_value(tmp_path: Path) -> None:
    docs = [Document(f"t{i}", str(i), {"lang": "en" if i % 3 else "fr"}) for i in range(9)]
    _write(
        ParquetWriter(str(tmp_path), output_filename="${lang}/${rank}.parquet", batch_size=2), docs
    )
    assert files_under(tmp_path) == ["en/00000.parquet", "fr/00000.parquet"]
    assert pq.read_table(tmp_path / "fr/00000.parquet").column("id").to_pylist() == ["0", "3", "6"]


def test_schema_from_a_spec_keeps_fields_the_first_batch_lacked(tmp_path: Path) -> None:
    from blocks.spec import PipelineSpec, build_pipeline

    spec = PipelineSpec.from_dict(
        {
            "name": "s",
            "stages": [
                {
                    "name": "m",
                    "pipeline": [
                        {"Documents": {"documents": []}},
                        {
                            "ParquetWriter": {
                                "output_folder": str(tmp_path),
                                "batch_size": 2,
                                "schema": {
                                    "text": "string",
                                    "id": "string",
                                    "metadata": "struct<source: string, url: string, tags: list<string>>",
                                },
                            }
                        },
                    ],
                }
            ],
        }
    )
    (_, writer) = build_pipeline(spec.stages[0])
    assert isinstance(writer, ParquetWriter)
    docs = [
        Document("a", "1", {"source": "lee"}),
        Document("b", "2", {"source": "lee"}),
        Document(
            "c", "3", {"source": "enwiki", "url": "https://en.wikipedia.org/wiki/C", "tags": ["x"]}
        ),
    ]
    _write(writer, docs)
    rows = _rows(tmp_path / "00000.parquet")
    assert rows[2]["metadata"] == {
        "source": "enwiki",
        "url": "https://en.wikipedia.org/wiki/C",
        "tags": ["x"],
    }
    assert not any(k.startswith("schema_dropped") for k in writer.stats.stats)
    with pytest.raises(ValueError, match="unknown Arrow type 'strng'"):
        ParquetWriter(str(tmp_path), schema={"text": "strng"})


@pytest.mark.parametrize(
    "text",
    [
        "string",
        "large_string",
        "int64",
        "double",
        "bool",
        "list<item: string>",
        "large_list<item: double>",
        "struct<a: int64, b: list<item: struct<c: string>>>",
        "map<string, int64>",
        "timestamp[ms]",
        "timestamp[us, tz=UTC]",
        "date32[day]",
    ],
)
def test_arrow_type_text_round_trips(text: str) -> None:
    from blocks.writers.arrow_schema import parse_type

    assert str(parse_type(text)) == text


def test_each_output_name_infers_its_schema_and_its_parts_share_it(tmp_path: Path) -> None:
    docs = [Document(f"lee {i}", f"l{i}", {"source": "lee"}) for i in range(6)] + [
        Document(f"wiki {i} " + "x" * 3000, f"w{i}", {"source": "enwiki", "url": f"https://w/{i}"})
        for i in range(6)
    ]
    docs.append(Document("late", "w-late", {"source": "enwiki", "url": "u", "extra": 1}))
    writer = ParquetWriter(
        str(tmp_path), output_filename="${source}/${rank}.parquet", batch_size=2, max_file_size=1
    )
    _write(writer, docs)
    wiki = sorted(f for f in files_under(tmp_path) if f.startswith("enwiki/"))
    assert len(wiki) == 4  # rolled after every batch
    schemas = {str(pq.read_schema(tmp_path / f)) for f in wiki}
    assert len(schemas) == 1 and "url" in schemas.pop()
    lee = pq.read_table(tmp_path / "lee" / "000_00000.parquet")
    assert lee.schema.field("metadata").type == pa.struct([("source", pa.string())])
    assert writer.stats.stats["schema_dropped_metadata.extra"].total == 1
