"""Writers on a real S3 API (moto_server on loopback, s3fs): commit, rolling, abort, templates."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from blocks.base import TaskContext
from blocks.document import Document
from blocks.io import get_datafolder
from blocks.pipeline import run_pipeline
from blocks.readers import JsonlReader, ParquetReader
from blocks.writers import JsonlWriter, ParquetWriter
from tests.moto_server import moto_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server process on a free loopback port, for this module."""
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def folder(endpoint: str) -> tuple[str, dict[str, Any]]:
    """A fresh bucket as a ``(url, storage options)`` folder."""
    import boto3

    name = f"writers-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=name)
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        "skip_instance_cache": True,
    }
    return f"s3://{name}", options


def _objects(url: str, options: dict[str, Any]) -> list[str]:
    out = get_datafolder((url, options))
    return sorted(p[len(out.path) + 1 :] for p in out.fs.find(out.path))


def test_parquet_rolls_and_commits_on_s3(
    folder: tuple[str, dict[str, Any]], real_docs: list[Document]
) -> None:
    url, options = folder
    writer = ParquetWriter(
        (f"{url}/pq", options),
        output_filename="${source}/${rank}.parquet",
        batch_size=50,
        max_file_size=30_000,
    )
    run_pipeline([real_docs, writer], TaskContext(rank=2, world_size=4))
    names = _objects(f"{url}/pq", options)
    assert names and all(n.split("/")[-1].endswith("_00002.parquet") for n in names)
    assert {n.split("/")[0] for n in names} == {d.metadata["source"] for d in real_docs[2::4]}
    assert any(n.split("/")[-1].startswith("001_") for n in names)  # it rolled
    back = list(ParquetReader((f"{url}/pq", options), add_file_path=False).run(None))
    assert sorted((d.id, d.text) for d in back) == sorted((d.id, d.text) for d in real_docs[2::4])


def test_failed_shard_leaves_no_object(folder: tuple[str, dict[str, Any]]) -> None:
    url, options = folder

    def explode(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for i, doc in enumerate(data):
            if i == 30:
                raise RuntimeError("lost the lease")
            yield doc

    docs = [Document("x" * 200, str(i), {"lang": "en" if i % 2 else "de"}) for i in range(60)]
    writers = [
        JsonlWriter(
            (f"{url}/j", options), output_filename="${lang}/${rank}.jsonl", max_file_size=500
        ),
        ParquetWriter((f"{url}/p", options), batch_size=4, max_file_size=1),
    ]
    with pytest.raises(RuntimeError, match="lease"):
        run_pipeline([docs, *writers, explode])
    assert _objects(url, options) == []


def test_unsafe_metadata_stays_inside_the_prefix(folder: tuple[str, dict[str, Any]]) -> None:
    url, options = folder
    docs = [Document("a", "1", {"k": "../../escape"}), Document("b", "2", {"k": "/abs"})]
    run_pipeline([docs, JsonlWriter((f"{url}/safe/out", options), output_filename="${k}.jsonl")])
    assert _objects(url, options) == ["safe/out/.._.._escape.jsonl.gz", "safe/out/_abs.jsonl.gz"]
    back = list(JsonlReader((f"{url}/safe/out", options)).run(None))
    assert sorted(d.text for d in back) == ["a", "b"]
