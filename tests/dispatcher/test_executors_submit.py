"""submit_run / enqueue_stage / requeue / depends against the real StateStore on fakeredis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blocks.errors import SpecError
from dispatcher.errors import RunConflictError, RunNotFoundError
from dispatcher.state import StateStore
from dispatcher.submit import (
    release_dependents,
    requeue,
    send_all,
    submit_run,
    unmet_dependencies,
)
from dispatcher.task import ShardTask


class Recorder:
    """A ``send`` that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, ShardTask]] = []

    def __call__(self, queue: str, message: str) -> None:
        self.sent.append((queue, ShardTask.decode(message)))

    def ranks(self, stage: str | None = None) -> list[int]:
        return sorted(t.rank for _, t in self.sent if stage is None or t.stage == stage)

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def store() -> StateStore:
    import fakeredis

    return StateStore(fakeredis.FakeRedis(decode_responses=True))


def _inputs(root: Path, n: int) -> Path:
    folder = root / "in"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        lines = [json.dumps({"text": f"file {i} doc {j} " * 5}) for j in range(20)]
        (folder / f"{i:02d}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _spec(root: Path, *, tasks: int = 3, stages: int = 1, **first: Any) -> dict[str, Any]:
    folder = _inputs(root, 5)
    out: list[dict[str, Any]] = [
        {
            "name": "filter",
            "tasks": tasks,
            "pipeline": [
                {"JsonlReader": {"data_folder": str(folder)}},
                {"JsonlWriter": {"output_folder": str(root / "out")}},
            ],
            **first,
        }
    ]
    if stages > 1:
        out.append(
            {
                "name": "copy",
                "tasks": 2,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(root / "out")}},
                    {"JsonlWriter": {"output_folder": str(root / "copy")}},
                ],
            }
        )
    return {"name": "news", "stages": out}


def _finish(store: StateStore, run: str, stage: str, ranks: list[int]) -> None:
    for rank in ranks:
        claim = store.claim(run, stage, rank, "test", 30)
        assert claim.acquired
        store.complete(run, stage, rank, claim.token, '{"format":"shardyard.stats/1","blocks":[]}')


def test_submit_plans_and_sends_one_task_per_rank(store: StateStore, tmp_path: Path) -> None:
    send = Recorder()
    result = submit_run(
        store,
        _spec(tmp_path),
        send=send,
        queue="q1",
        options={"logging_dir": str(tmp_path / "logs")},
    )
    assert result.created and result.stage == "filter" and result.enqueued == 3
    assert send.ranks() == [0, 1, 2]
    queue, task = send.sent[1]
    assert queue == "q1" and task.queue == "q1" and task.world_size == 3
    assert task.files is not None and [f.path for f in task.files] == ["01.jsonl", "04.jsonl"]
    assert task.spec_hash == store.get_run("news").spec_hash  # type: ignore[union-attr]
    executor = json.loads((tmp_path / "logs" / "executor.json").read_text())
    assert executor["run_id"] == "news" and executor["options"]["queue"] == "q1"
    assert executor["spec"]["stages"][0]["tasks"] == 3


def test_resubmit_sends_only_ranks_not_done(store: StateStore, tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    submit_run(store, spec, send=Recorder())
    _finish(store, "news", "filter", [0, 2])
    again = Recorder()
    result = submit_run(store, spec, send=again)
    assert not result.created and again.ranks() == [1]
    _finish(store, "news", "filter", [1])
    last = Recorder()
    assert submit_run(store, spec, send=last).complete and last.sent == []


def test_changed_spec_is_refused_unless_forced(store: StateStore, tmp_path: Path) -> None:
    submit_run(store, _spec(tmp_path), send=Recorder())
    _finish(store, "news", "filter", [0, 1, 2])
    changed = _spec(tmp_path, tasks=4)
    with pytest.raises(RunConflictError) as err:
        submit_run(store, changed, send=Recorder())
    assert err.value.exit_code == 2
    send = Recorder()
    submit_run(store, changed, send=send, force=True)
    assert send.ranks() == [0, 1, 2, 3], "force starts the new spec from nothing"


def test_bad_spec_stores_and_sends_nothing(store: StateStore, tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec["stages"][0]["pipeline"][0]["JsonlReader"]["limt"] = 3
    send = Recorder()
    with pytest.raises(SpecError) as err:
        submit_run(store, spec, send=send)
    assert err.value.exit_code == 2 and "stages[0].pipeline[0].JsonlReader.limt" in str(err.value)
    assert "did you mean 'limit'" in str(err.value)
    assert send.sent == [] and store.list_runs() == []


def test_only_the_first_incomplete_stage_is_enqueued(store: StateStore, tmp_path: Path) -> None:
    spec = _spec(tmp_path, stages=2)
    send = Recorder()
    submit_run(store, spec, send=send)
    assert {t.stage for _, t in send.sent} == {"filter"}
    assert store.stage_plan("news", "copy") is None, "later stages are planned when reached"
    _finish(store, "news", "filter", [0, 1, 2])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "00000.jsonl").write_text('{"text": "x"}\n')
    again = Recorder()
    result = submit_run(store, spec, send=again)
    assert result.stage == "copy" and again.ranks("copy") == [0, 1]


def test_by_size_sends_byte_ranges(store: StateStore, tmp_path: Path) -> None:
    spec = _spec(tmp_path, sharding="by_size", target_shard_bytes=500)
    send = Recorder()
    result = submit_run(store, spec, send=send)
    plan = store.stage_plan("news", "filter")
    assert plan is not None and plan.tasks == result.enqueued > 5
    ranged = [
        (f.start, f.end)
        for _, t in send.sent
        for f in t.files or ()
        if f.start is not None and f.end is not None
    ]
    assert ranged and all(end - start <= 500 for start, end in ranged)


def test_depends_waits_then_is_released(store: StateStore, tmp_path: Path) -> None:
    first = _spec(tmp_path / "a")
    first["name"] = "first"
    submit_run(store, first, send=Recorder())
    second = _spec(tmp_path / "b")
    second["name"] = "second"
    second["depends"] = ["first"]
    send = Recorder()
    result = submit_run(store, second, send=send)
    assert result.waiting_for == ("first",) and send.sent == []
    assert release_dependents(store, "first", send) == [], "first is not complete yet"
    _finish(store, "first", "filter", [0, 1, 2])
    assert unmet_dependencies(store, "second") == []
    assert release_dependents(store, "first", send) == ["second"]
    assert send.ranks() == [0, 1, 2]
    assert release_dependents(store, "first", send) == [], "released once"
    with pytest.raises(RunNotFoundError):
        submit_run(store, _spec(tmp_path / "c"), run_id="third", depends=["nope"], send=send)


def test_requeue_failed_gives_attempts_back(store: StateStore, tmp_path: Path) -> None:
    submit_run(store, _spec(tmp_path, max_attempts=1), send=Recorder())
    claim = store.claim("news", "filter", 1, "w", 30)
    store.record_failure("news", "filter", 1, claim.token, "boom", "tb", "w", 1, final=True)
    assert store.failed_ranks("news", "filter") == [1]
    resend = Recorder()
    assert submit_run(store, _spec(tmp_path, max_attempts=1), send=resend).enqueued == 3 - 1
    assert 1 not in resend.ranks(), "a failed rank waits for requeue"
    send = Recorder()
    assert requeue(store, "news", send, failed=True) == ("filter", [1])
    assert send.ranks() == [1] and store.failed_ranks("news", "filter") == []
    assert store.claim("news", "filter", 1, "w", 30).acquired


def test_send_all_batches_when_the_sender_can() -> None:
    calls: list[tuple[str, int]] = []

    class Batching:
        def __call__(self, queue: str, message: str) -> None:
            calls.append((queue, 1))

        def send_many(self, queue: str, messages: list[str]) -> None:
            calls.append((queue, len(messages)))

    assert send_all(Batching(), "q", (str(i) for i in range(12001))) == 12001
    assert calls == [("q", 5000), ("q", 5000), ("q", 2001)]
