"""DataFolder, readers and JsonlWriter against a real S3 API (moto_server on loopback, s3fs)."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks.base import FileRange, TaskContext
from blocks.document import Document
from blocks.io import DataFolder, get_datafolder
from blocks.pipeline import run_pipeline
from blocks.readers import JsonlReader, ParquetReader, WarcReader, gzip_member_offsets
from blocks.writers.jsonl import JsonlWriter
from tests.blocks.readers.conftest import cuts, load_real_texts, load_realdata, read_all, stat
from tests.moto_server import moto_server

# a real server process and s3fs's first client take seconds to start
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server process on a free loopback port, for this module."""
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="module")
def realdata() -> Any:
    return load_realdata()


@pytest.fixture(scope="module")
def real_texts(realdata: Any) -> list[dict[str, Any]]:
    return load_real_texts(realdata)


@pytest.fixture
def options(s3_endpoint: str) -> dict[str, Any]:
    """s3fs storage options for the moto server (fresh instance: no stale listing cache)."""
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        "skip_instance_cache": True,
    }


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name


def _put(options: dict[str, Any], url: str, data: bytes) -> None:
    import s3fs

    with s3fs.S3FileSystem(**options).open(url, "wb") as fh:
        fh.write(data)


def test_listing_sizes_glob_and_shards(options: dict[str, Any], bucket: str) -> None:
    files = {
        "a.jsonl": b"1\n",
        "b.jsonl.gz": b"22\n",
        "sub/c.jsonl": b"333\n",
        "sub/deep/d.txt": b"4444\n",
    }
    for rel, data in files.items():
        _put(options, f"s3://{bucket}/in/{rel}", data)
    folder = get_datafolder((f"s3://{bucket}/in", options))
    assert folder.list_files_with_sizes() == sorted((k, len(v)) for k, v in files.items())
    assert folder.list_files(recursive=False) == ["a.jsonl", "b.jsonl.gz"]
    assert folder.list_files(glob_pattern="*.jsonl") == ["a.jsonl", "sub/c.jsonl"]
    assert folder.list_files(glob_pattern="sub/**/*.txt") == ["sub/deep/d.txt"]
    assert folder.list_files(glob_pattern=".gz") == ["b.jsonl.gz"]
    assert folder.get_shard(1, 2) == ["b.jsonl.gz", "sub/deep/d.txt"]
    assert folder.full_url("a.jsonl") == f"s3://{bucket}/in/a.jsonl"
    assert folder.to_spec() == [f"s3://{bucket}/in", options]  # travels as JSON to workers
    assert get_datafolder(folder.to_spec()).list_files() == folder.list_files()


@pytest.mark.parametrize("suffix", [".gz", ".zst", ".bz2", ""])
def test_open_compressed_round_trip(options: dict[str, Any], bucket: str, suffix: str) -> None:
    folder = get_datafolder((f"s3://{bucket}/c", options))
    with folder.open(f"x/data.jsonl{suffix}", "wb") as fh:
        fh.write(b'{"text": "one"}\n{"text": "two"}\n')
    with folder.open(f"x/data.jsonl{suffix}", "rb") as fh:
        assert list(fh) == [b'{"text": "one"}\n', b'{"text": "two"}\n']
    assert [d.text for d in read_all(JsonlReader(folder))] == ["one", "two"]


def test_filesystem_object_form(options: dict[str, Any], bucket: str) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(**options)
    _put(options, f"s3://{bucket}/fs/a.jsonl", b'{"text": "hello", "id": "h"}\n')
    folder = get_datafolder((f"s3://{bucket}/fs", fs))
    assert isinstance(folder, DataFolder) and folder.fs is fs
    (doc,) = read_all(JsonlReader(folder))
    assert (doc.id, doc.text, doc.metadata["file_path"]) == (
        "h",
        "hello",
        f"s3://{bucket}/fs/a.jsonl",
    )


def test_real_texts_read_write_commit_through_s3(
    options: dict[str, Any], bucket: str, real_texts: list[dict[str, Any]]
) -> None:
    import orjson

    for k in range(3):
        body = b"".join(orjson.dumps(r) + b"\n" for r in real_texts[k::3])
        _put(options, f"s3://{bucket}/src/part-{k}.jsonl.gz", gzip.compress(body))
    writer = JsonlWriter((f"s3://{bucket}/out", options))
    stats = run_pipeline(
        [JsonlReader((f"s3://{bucket}/src", options)), writer], TaskContext(rank=0, world_size=1)
    )
    assert stats is not None
    out = get_datafolder((f"s3://{bucket}/out", options))
    # committed under the final name only: no temporary object is left behind
    assert [p for p, _ in out.fs.find(out.path, detail=True).items()] == [
        f"{bucket}/out/00000.jsonl.gz"
    ]
    docs = read_all(JsonlReader(out))
    assert sorted(d.id for d in docs) == sorted(r["id"] for r in real_texts)
    assert {d.metadata["file_path"] for d in docs} == {
        f"s3://{bucket}/src/part-{k}.jsonl.gz" for k in range(3)
    }


def test_aborted_writer_leaves_nothing_on_s3(options: dict[str, Any], bucket: str) -> None:
    def explode(data: Any, rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for i, doc in enumerate(data):
            if i == 2:
                raise RuntimeError("boom")
            yield doc

    docs = [Document(f"t{i}", str(i)) for i in range(5)]
    writer = JsonlWriter((f"s3://{bucket}/aborted", options))
    with pytest.raises(RuntimeError, match="boom"):
        run_pipeline([docs, writer, explode])
    out = get_datafolder((f"s3://{bucket}/aborted", options))
    assert out.fs.find(out.path) == []


def test_warc_and_parquet_readers_on_s3_with_byte_ranges(
    options: dict[str, Any], bucket: str, realdata: Any, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    warc = Path(realdata.path("warc")) / "pywb" / "iana.warc.gz"
    _put(options, f"s3://{bucket}/warc/iana.warc.gz", warc.read_bytes())
    folder = (f"s3://{bucket}/warc", options)
    whole = [d.id for d in WarcReader(folder).read_file("iana.warc.gz")]
    assert len(whole) == 16  # DataTrove's count for this file
    offsets = gzip_member_offsets(folder, "iana.warc.gz")
    size = warc.stat().st_size
    assert offsets == gzip_member_offsets(str(warc.parent), "iana.warc.gz")
    points = [offsets[len(offsets) // 3], size // 2, offsets[-5] + 7]
    pieces = [FileRange("iana.warc.gz", a, b) for a, b in cuts(size, points)]
    reader = WarcReader(folder)
    assert [d.id for d in read_all(reader, files=pieces)] == whole
    assert stat(reader, "skipped_record_type") > 0

    table = pa.table({"text": [f"row {i}" for i in range(500)]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=64)
    _put(options, f"s3://{bucket}/pq/t.parquet", (tmp_path / "t.parquet").read_bytes())
    psize = (tmp_path / "t.parquet").stat().st_size
    pieces = [FileRange("t.parquet", a, b) for a, b in cuts(psize, [psize // 4, psize // 2])]
    docs = read_all(ParquetReader((f"s3://{bucket}/pq", options), batch_size=100), files=pieces)
    assert [d.text for d in docs] == [f"row {i}" for i in range(500)]
