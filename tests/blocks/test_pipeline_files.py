"""The planner's file assignment reaches the stage's first reader only."""

from __future__ import annotations

import json
from pathlib import Path

from blocks.base import FileRange, TaskContext
from blocks.pipeline import run_pipeline
from blocks.readers import JsonlReader


def _write(folder: Path, name: str, ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps({"text": f"t{i}", "id": i}) + "\n" for i in ids))


def test_second_reader_lists_its_own_folder(tmp_path: Path) -> None:
    _write(tmp_path / "a", "0.jsonl", ["a0"])
    _write(tmp_path / "a", "1.jsonl", ["a1"])
    _write(tmp_path / "b", "0.jsonl", ["b0"])
    _write(tmp_path / "b", "1.jsonl", ["b1"])
    seen: list[str] = []

    def collect(data, rank=0, world_size=1):
        for doc in data:
            seen.append(doc.id)
            yield doc

    ctx = TaskContext(rank=1, world_size=2, files=(FileRange("0.jsonl"),))
    run_pipeline([JsonlReader(str(tmp_path / "a")), JsonlReader(str(tmp_path / "b")), collect], ctx)
    # the first reader reads the planned file; the second takes rank 1 of its own listing
    assert seen == ["a0", "b1"]
