"""DataFolder on the local disk and in memory: listing, globbing, sharding, compression."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from blocks.errors import SpecError, UnsafePathError
from blocks.io import (
    DataFolder,
    compression_of,
    get_datafolder,
    has_glob_magic,
    render_template,
    safe_relpath,
    temp_name,
)

TREE = {
    "a.jsonl": b"1\n",
    "b.jsonl.gz": b"22\n",
    "c.txt": b"333\n",
    "sub/d.jsonl": b"4444\n",
    "sub/deeper/e.jsonl": b"55555\n",
    "sub/deeper/f.parquet": b"666666\n",
    "x1.txt": b"7\n",
    "x2.txt": b"88\n",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel, data in TREE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    # a writer's in-flight temporary file is never an input
    (tmp_path / "sub" / temp_name("z.jsonl").split("/")[-1]).write_bytes(b"partial")
    return tmp_path


def test_recursive_listing_is_sorted_with_sizes(tree: Path) -> None:
    folder = DataFolder(str(tree))
    assert folder.list_files_with_sizes() == sorted((rel, len(data)) for rel, data in TREE.items())
    assert folder.list_files(recursive=False) == [
        "a.jsonl",
        "b.jsonl.gz",
        "c.txt",
        "x1.txt",
        "x2.txt",
    ]
    assert folder.list_files(subdirectory="sub") == [
        "sub/d.jsonl",
        "sub/deeper/e.jsonl",
        "sub/deeper/f.parquet",
    ]
    assert DataFolder(str(tree / "missing")).list_files() == []


@pytest.mark.parametrize(
    ("pattern", "recursive", "expected"),
    [
        ("*.jsonl", True, ["a.jsonl", "sub/d.jsonl", "sub/deeper/e.jsonl"]),
        ("*.jsonl", False, ["a.jsonl"]),
        (".jsonl", True, ["a.jsonl", "sub/d.jsonl", "sub/deeper/e.jsonl"]),  # no wildcard: a suffix
        ("jsonl.gz", True, ["b.jsonl.gz"]),
        ("sub/*.jsonl", True, ["sub/d.jsonl"]),
        ("sub/**/*.jsonl", True, ["sub/d.jsonl", "sub/deeper/e.jsonl"]),
        ("**/*.parquet", True, ["sub/deeper/f.parquet"]),
        ("x?.txt", True, ["x1.txt", "x2.txt"]),
        ("x[2-9].txt", True, ["x2.txt"]),
        ("x[!2].txt", True, ["x1.txt"]),
        ("[ab].*", True, ["a.jsonl", "b.jsonl.gz"]),
    ],
)
def test_glob_patterns(tree: Path, pattern: str, recursive: bool, expected: list[str]) -> None:
    assert DataFolder(str(tree)).list_files(recursive=recursive, glob_pattern=pattern) == expected


def test_glob_is_relative_to_the_subdirectory(tree: Path) -> None:
    folder = DataFolder(str(tree))
    assert folder.list_files(subdirectory="sub", glob_pattern="deeper/*.jsonl") == [
        "sub/deeper/e.jsonl"
    ]
    assert has_glob_magic("*.x") and has_glob_magic("a[bc]") and not has_glob_magic(".jsonl.gz")


def test_get_shard_is_datatroves_round_robin(tree: Path) -> None:
    folder = DataFolder(str(tree))
    everything = folder.list_files()
    shards = [folder.get_shard(rank, 3) for rank in range(3)]
    assert [p for shard in shards for p in shard] != everything  # interleaved, not chunked
    assert sorted(p for shard in shards for p in shard) == everything
    assert shards[1] == everything[1::3]
    assert folder.get_shard(0, 2, glob_pattern="*.txt") == ["c.txt", "x2.txt"]


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst", ".xz", ""])
def test_open_infers_compression_and_makes_parents(tmp_path: Path, suffix: str) -> None:
    folder = DataFolder(str(tmp_path))
    rel = f"new/dir/data.jsonl{suffix}"
    with folder.open(rel, "wb") as fh:
        fh.write(b"line one\nline two\n")
    raw = (tmp_path / rel).read_bytes()
    assert (raw == b"line one\nline two\n") == (suffix == "")
    with folder.open(rel, "rb") as fh:
        assert list(fh) == [b"line one\n", b"line two\n"]
    assert list(folder.iter_lines(rel)) == ["line one\n", "line two\n"]
    assert (
        compression_of(rel)
        == {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz", "": None}[suffix]
    )


def test_explicit_compression_and_raw_bytes(tmp_path: Path) -> None:
    folder = DataFolder(str(tmp_path))
    with folder.open("blob", "wb", compression="gzip") as fh:
        fh.write(b"payload")
    with folder.open("blob", "rb", compression="gzip") as fh:
        assert fh.read() == b"payload"
    with folder.open("blob", "rb") as fh:  # no extension: raw gzip bytes
        assert fh.read(2) == b"\x1f\x8b"


def test_file_operations(tmp_path: Path) -> None:
    folder = DataFolder(str(tmp_path))
    with folder.open("a/b.txt", "wb") as fh:
        fh.write(b"12345")
    assert folder.exists("a/b.txt") and folder.size("a/b.txt") == 5
    folder.move("a/b.txt", "a/c.txt")
    assert not folder.exists("a/b.txt") and folder.exists("a/c.txt")
    folder.rm("a/c.txt")
    folder.rm("a/c.txt")  # removing a missing file is not an error
    assert not folder.exists("a/c.txt")
    folder.makedirs("x/y")
    assert (tmp_path / "x" / "y").is_dir()


def test_every_way_of_naming_a_folder(tmp_path: Path) -> None:
    local = get_datafolder(str(tmp_path))
    assert (
        local.is_local
        and local.path == str(tmp_path)
        and local.full_url("f") == str(tmp_path / "f")
    )
    assert get_datafolder(local) is local
    assert get_datafolder((str(tmp_path), {})).path == str(tmp_path)
    assert get_datafolder([str(tmp_path), {"auto_mkdir": True}]).storage_options == {
        "auto_mkdir": True
    }
    assert get_datafolder((str(tmp_path), LocalFileSystem())).is_local
    assert get_datafolder(f"file://{tmp_path}").path == str(tmp_path)
    assert DataFolder(os.path.relpath(tmp_path)).path == str(tmp_path)  # absolute after init
    with pytest.raises(SpecError, match="cannot use"):
        get_datafolder(42)  # type: ignore[arg-type]


def test_non_local_filesystems_and_specs() -> None:
    memory = MemoryFileSystem()
    folder = get_datafolder(("/bucket/data", memory))
    with folder.open("part/0.jsonl.gz", "wb") as fh:
        fh.write(b'{"text": "x"}\n')
    assert folder.list_files_with_sizes()[0][0] == "part/0.jsonl.gz"
    assert folder.full_url("part/0.jsonl.gz") == "memory:///bucket/data/part/0.jsonl.gz"
    assert not folder.is_local
    with pytest.raises(SpecError, match="storage_options"):
        folder.to_spec()  # a live filesystem object cannot travel in a message
    by_url = get_datafolder("memory://bucket/data")
    assert by_url.to_spec() == "memory://bucket/data"
    assert by_url.list_files() == ["part/0.jsonl.gz"]  # the same in-memory store
    with_options = get_datafolder(("memory://bucket/data", {"skip_instance_cache": True}))
    assert with_options.to_spec() == ["memory://bucket/data", {"skip_instance_cache": True}]


def test_output_names_cannot_leave_the_folder() -> None:
    assert (
        render_template("${lang}/${rank}.jsonl", {"lang": "en", "rank": "00001"})
        == "en/00001.jsonl"
    )
    assert render_template("${lang}.jsonl", {"lang": "../../etc"}) == ".._.._etc.jsonl"
    assert render_template("${x}/a", {"x": ".."}) == "__/a"
    for bad in ("/abs/path", "../up", "a/../../up", "C:/x", "a\x00b"):
        with pytest.raises(UnsafePathError):
            safe_relpath(bad)
    with pytest.raises(UnsafePathError, match="no value"):
        render_template("${missing}.jsonl", {})
    name = temp_name("dir/out.jsonl")
    assert name.startswith("dir/.out.jsonl.tmp-") and name != temp_name("dir/out.jsonl")
