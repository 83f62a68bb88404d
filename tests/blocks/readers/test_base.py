"""The reader base: sharding, skip/limit, shuffle, paths_file, adapters, stats, errors."""

from __future__ import annotations

import errno
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.local import LocalFileSystem

from blocks.base import FileRange
from blocks.readers import JsonlReader
from blocks.spec import PipelineSpec
from tests.blocks.readers.conftest import read_all, stat


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """5 files x 4 documents, ids f<file>-<line>."""
    root = tmp_path / "in"
    for f in range(5):
        _write(
            root / f"{f:02d}.jsonl", [{"text": f"t{f}-{i}", "id": f"f{f}-{i}"} for i in range(4)]
        )
    return root


def _ids(docs: list[Any]) -> list[str]:
    return [d.id for d in docs]


def test_round_robin_shards_cover_every_file_once(folder: Path) -> None:
    seen: list[str] = []
    for rank in range(3):
        docs = read_all(JsonlReader(str(folder)), rank, 3)
        files = {d.metadata["file_path"] for d in docs}
        # DataTrove's contract: rank i reads files i, i+3, ... of the sorted listing
        assert files == {str(folder / f"{f:02d}.jsonl") for f in range(rank, 5, 3)}
        seen += _ids(docs)
    assert sorted(seen) == sorted(f"f{f}-{i}" for f in range(5) for i in range(4))


def test_skip_and_limit_count_documents_across_files(folder: Path) -> None:
    docs = read_all(JsonlReader(str(folder), skip=3, limit=6))
    assert _ids(docs) == ["f0-3", "f1-0", "f1-1", "f1-2", "f1-3", "f2-0"]


def test_limit_zero_reads_nothing_and_opens_no_file(folder: Path) -> None:
    reader = JsonlReader(str(folder), limit=0)
    assert read_all(reader) == []
    assert stat(reader, "input_files") == 0


def test_limit_stops_before_opening_more_files(folder: Path) -> None:
    reader = JsonlReader(str(folder), limit=4)
    assert len(read_all(reader)) == 4
    assert stat(reader, "input_files") == 1


def test_stats_follow_datatrove_names(folder: Path) -> None:
    reader = JsonlReader(str(folder))
    read_all(reader)
    stats = reader.stats.stats
    assert stats["input_files"].n == 5
    documents = stats["documents"].to_dict()
    assert documents["total"] == 20 and documents["n"] == 5  # per file, as DataTrove
    assert stats["doc_len"].n == 20


def test_shuffle_files_is_a_permutation_stable_per_rank(folder: Path) -> None:
    plain = _ids(read_all(JsonlReader(str(folder))))
    first = _ids(read_all(JsonlReader(str(folder), shuffle_files=True)))
    again = _ids(read_all(JsonlReader(str(folder), shuffle_files=True)))
    assert sorted(first) == sorted(plain)
    assert first == again  # a retried shard reads in the same order
    orders = {
        tuple(_ids(read_all(JsonlReader(str(folder), shuffle_files=True), r, 1))) for r in range(8)
    }
    assert len(orders) > 1  # the seed (the rank) changes the order


def test_paths_file_lists_the_inputs_in_its_order(folder: Path, tmp_path: Path) -> None:
    listing = tmp_path / "paths.txt"
    listing.write_text("03.jsonl\n\n01.jsonl\n")
    reader = JsonlReader(str(folder), paths_file=str(listing))
    assert reader.list_files() == [("03.jsonl", -1), ("01.jsonl", -1)]
    assert [d.id for d in read_all(reader)][::4] == ["f3-0", "f1-0"]
    # rank/world_size shard the paths file's lines like DataTrove
    assert {
        d.id[:2] for d in read_all(JsonlReader(str(folder), paths_file=str(listing)), 1, 2)
    } == {"f1"}


def test_paths_file_compressed_and_with_storage_options_or_fs(folder: Path, tmp_path: Path) -> None:
    listing = tmp_path / "paths.txt.gz"
    with gzip.open(listing, "wt") as fh:
        fh.write("04.jsonl\n")
    for source in (str(listing), (str(listing), {}), (str(listing), LocalFileSystem())):
        reader = JsonlReader(str(folder), paths_file=source)
        assert _ids(read_all(reader)) == [f"f4-{i}" for i in range(4)]


def test_planner_assignment_overrides_the_listing(folder: Path) -> None:
    reader = JsonlReader(str(folder))
    docs = read_all(
        reader, rank=0, world_size=9, files=[FileRange("02.jsonl"), FileRange("00.jsonl")]
    )
    assert _ids(docs) == [f"f2-{i}" for i in range(4)] + [f"f0-{i}" for i in range(4)]


def test_empty_input_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no input files"):
        read_all(JsonlReader(str(tmp_path / "empty")))


def test_adapter_default_metadata_and_file_path(tmp_path: Path) -> None:
    _write(
        tmp_path / "a.jsonl",
        [
            {"content": "hello", "uid": 7, "lang": "en", "metadata": {"source": "x"}},
            {"content": "world", "metadata": json.dumps({"source": "y"})},  # metadata as JSON text
        ],
    )
    docs = read_all(
        JsonlReader(
            str(tmp_path),
            text_key="content",
            id_key="uid",
            default_metadata={"source": "d", "k": 1},
        )
    )
    assert [d.text for d in docs] == ["hello", "world"]
    assert docs[0].id == "7" and docs[1].id == "a.jsonl/1"  # DataTrove's <path>/<line> fallback
    assert docs[0].metadata == {
        "source": "x",
        "lang": "en",
        "k": 1,
        "file_path": str(tmp_path / "a.jsonl"),
    }
    assert docs[1].metadata["source"] == "y"
    assert (
        "file_path"
        not in read_all(JsonlReader(str(tmp_path), text_key="content", add_file_path=False))[
            0
        ].metadata
    )

    def adapter(
        self: JsonlReader, data: dict[str, Any], path: str, id_in_file: int | str
    ) -> dict[str, Any]:
        return {"text": data["content"].upper(), "id": f"{path}#{id_in_file}", "metadata": {}}

    docs = read_all(JsonlReader(str(tmp_path), adapter=adapter))
    assert [(d.text, d.id) for d in docs] == [("HELLO", "a.jsonl#0"), ("WORLD", "a.jsonl#1")]


def test_text_problems_are_counted(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", [{"id": 1}, {"text": ""}, {"text": 3}, {"text": "ok"}])
    reader = JsonlReader(str(tmp_path))
    assert [d.text for d in read_all(reader)] == ["ok"]
    assert stat(reader, "error_missing_text") == 1
    assert stat(reader, "skipped_empty_text") == 1
    assert stat(reader, "error_bad_text_type") == 1


def test_progress_bars_do_not_change_the_output(folder: Path) -> None:
    docs = read_all(JsonlReader(str(folder), file_progress=True, doc_progress=True, limit=5))
    assert len(docs) == 5


def test_readers_round_trip_through_a_yaml_spec(folder: Path) -> None:
    spec = PipelineSpec.from_dict(
        {
            "name": "t",
            "stages": [
                {
                    "name": "main",
                    "pipeline": [
                        {
                            "JsonlReader": {
                                "data_folder": str(folder),
                                "glob_pattern": "0[0-1].jsonl",
                                "limit": 5,
                            }
                        }
                    ],
                }
            ],
        }
    )
    from blocks.spec import build_pipeline

    (reader,) = build_pipeline(spec.stage("main"))
    assert isinstance(reader, JsonlReader)
    assert [p for p, _ in reader.list_files()] == ["00.jsonl", "01.jsonl"]
    assert len(read_all(reader)) == 5


def test_unknown_reader_parameter_is_refused_by_the_spec(folder: Path) -> None:
    from blocks.errors import SpecError

    with pytest.raises(SpecError, match="glob_pattern"):
        PipelineSpec.from_dict(
            {
                "name": "t",
                "stages": [
                    {
                        "name": "m",
                        "pipeline": [
                            {"JsonlReader": {"data_folder": str(folder), "glob_patern": "*"}}
                        ],
                    }
                ],
            }
        )


def test_importing_readers_pulls_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, blocks.readers; "
        "print(','.join(m for m in ('pyarrow', 'warcio', 'magic', 'cchardet') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_corrupt_compressed_data_is_counted_per_codec(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl.bz2").write_bytes(b"BZh91AY&SY" + b"\x00garbage" * 20)  # bare OSError
    (tmp_path / "b.jsonl.xz").write_bytes(b"\xfd7zXZ\x00" + b"garbage" * 20)  # LZMAError
    (tmp_path / "c.jsonl.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 20)  # ZstdError
    (tmp_path / "d.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 40)  # zlib.error
    _write(tmp_path / "e.jsonl", [{"text": "survivor"}])
    reader = JsonlReader(str(tmp_path))
    assert [d.text for d in read_all(reader)] == ["survivor"]
    assert stat(reader, "error_corrupt_file") + stat(reader, "error_truncated_file") == 4
    assert stat(reader, "input_files") == 5


class _FlakyStorage(JsonlReader):
    """A reader whose storage fails the way object stores and disks do."""

    def __init__(self, data_folder: Any, error: BaseException) -> None:
        super().__init__(data_folder)
        self.error = error

    def read_file(self, filepath: str) -> Any:
        yield from super().read_file(filepath)
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EIO, "I/O error"),
        ConnectionResetError("reset"),
        TimeoutError("slow"),
        PermissionError("denied"),
    ],
)
def test_storage_errors_fail_the_shard_so_it_is_retried(folder: Path, error: BaseException) -> None:
    with pytest.raises(type(error)):
        read_all(_FlakyStorage(str(folder), error))


def test_a_bare_oserror_is_corrupt_data(folder: Path) -> None:
    reader = _FlakyStorage(str(folder), OSError("Corrupt snappy compressed data."))
    assert len(read_all(reader)) == 20
    assert stat(reader, "error_corrupt_file") == 5
