"""A killed attempt's temporary file is removed when a later attempt of the shard commits."""

from __future__ import annotations

from pathlib import Path

from blocks.document import Document
from blocks.io import is_temp_of, temp_name
from blocks.writers import JsonlWriter


def test_commit_removes_temporaries_of_killed_attempts(tmp_path: Path) -> None:
    stale = tmp_path / ".00000.jsonl.gz.tmp-deadbeef"
    stale.write_bytes(b"half a file from a SIGKILLed attempt")
    other = tmp_path / ".00001.jsonl.gz.tmp-deadbeef"  # another shard's: left alone
    other.write_bytes(b"x")
    writer = JsonlWriter(str(tmp_path))
    list(writer.run([Document("a", "1"), Document("b", "2")], rank=0))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".00001.jsonl.gz.tmp-deadbeef", "00000.jsonl.gz"]
    assert writer.stats.stats["stale_temps_removed"].total == 1


def test_temp_names_are_recognised_exactly() -> None:
    name = temp_name("dir/00003.parquet").split("/")[-1]
    assert is_temp_of(name, "00003.parquet")
    assert not is_temp_of(name, "00003.parque")
    assert not is_temp_of(".00003.parquet.tmp-xyz", "00003.parquet")
    assert not is_temp_of("00003.parquet", "00003.parquet")
