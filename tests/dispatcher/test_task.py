"""ShardTask: JSON round trip and typed rejection of every malformed message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks.base import FileRange
from dispatcher.errors import TaskDecodeError
from dispatcher.task import SCHEMA_VERSION, ShardTask


def _task(**over: Any) -> ShardTask:
    base: dict[str, Any] = {
        "run_id": "r1",
        "stage": "filter",
        "rank": 2,
        "world_size": 4,
        "spec_hash": "ab" * 32,
        "files": (FileRange("a.jsonl"), FileRange("b.jsonl", 0, 100)),
        "queue": "q1",
    }
    base.update(over)
    return ShardTask(**base)


def _wire(**over: Any) -> dict[str, Any]:
    data = _task().to_dict()
    data.update(over)
    return data


def test_round_trip_through_json_text() -> None:
    task = _task()
    raw = task.encode()
    assert json.loads(raw)["schema_version"] == SCHEMA_VERSION
    assert json.loads(raw)["files"] == [["a.jsonl", None, None], ["b.jsonl", 0, 100]]
    assert ShardTask.decode(raw) == task
    assert ShardTask.decode(raw.encode()) == task
    assert ShardTask.decode(json.loads(raw)) == task


def test_null_files_means_reader_splits_itself() -> None:
    task = _task(files=None)
    back = ShardTask.decode(task.encode())
    assert back.files is None
    ctx = back.context(attempt=3)
    assert (ctx.run_id, ctx.stage, ctx.rank, ctx.world_size, ctx.attempt, ctx.files) == (
        "r1",
        "filter",
        2,
        4,
        3,
        None,
    )


def test_context_carries_file_ranges() -> None:
    ctx = _task().context()
    assert ctx.files == (FileRange("a.jsonl"), FileRange("b.jsonl", 0, 100))
    assert ctx.attempt == 1


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps(_wire(schema_version=99)), "schema_version 99"),
        (json.dumps({k: v for k, v in _wire().items() if k != "schema_version"}), "schema_version"),
        (json.dumps({k: v for k, v in _wire().items() if k != "rank"}), "lacks field 'rank'"),
        (json.dumps(_wire(rank="2")), "'rank' must be int"),
        (json.dumps(_wire(rank=True)), "'rank' must be int"),
        (json.dumps(_wire(rank=4)), "outside world size"),
        (json.dumps(_wire(rank=-1)), "outside world size"),
        (json.dumps(_wire(world_size=0)), "world_size"),
        (json.dumps(_wire(run_id="")), "must not be empty"),
        (json.dumps(_wire(spec_hash=5)), "'spec_hash' must be str"),
        (json.dumps(_wire(queue="")), "queue"),
        (json.dumps(_wire(extra=1)), "unknown fields"),
        (json.dumps(_wire(files="a.jsonl")), "'files' must be a list"),
        (json.dumps(_wire(files=[["a", 1]])), "[path, start, end]"),
        (json.dumps(_wire(files=[[3, None, None]])), "path string"),
        (json.dumps(_wire(files=[["a", 0, None]])), "both start and end"),
        (json.dumps(_wire(files=[["a", 10, 5]])), "invalid byte range"),
        (json.dumps(_wire(files=[["a", 0.5, 9]])), "integer or null"),
    ],
)
def test_malformed_messages_raise_typed_error(raw: str | bytes, needle: str) -> None:
    with pytest.raises(TaskDecodeError) as info:
        ShardTask.decode(raw)
    assert needle in str(info.value)
    assert info.value.exit_code == 2


def test_bare_path_strings_are_accepted_as_whole_files() -> None:
    task = ShardTask.decode(_wire(files=["x.jsonl"]))
    assert task.files == (FileRange("x.jsonl"),)


def test_frozen_and_labelled() -> None:
    task = _task()
    with pytest.raises(AttributeError):
        task.rank = 3  # type: ignore[misc]
    assert task.label == "r1/filter/2"
