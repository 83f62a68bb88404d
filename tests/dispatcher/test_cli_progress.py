"""The progress watcher behind ``shardyard run``: rendering, docs/s, complete vs. stuck."""

from __future__ import annotations

import io
import json

import pytest

from blocks.metrics import BlockStats, PipelineStats
from dispatcher.progress import RunWatcher, documents_of, is_finished, is_stuck, watch_run
from dispatcher.state import StateStore


@pytest.fixture
def store() -> StateStore:
    import fakeredis

    s = StateStore(fakeredis.FakeRedis(decode_responses=True))
    spec = {
        "name": "p",
        "stages": [{"name": "a", "tasks": 4, "pipeline": []}, {"name": "b", "pipeline": []}],
    }
    s.create_run("p", json.dumps(spec), "h", {})
    s.set_stage_plan("p", "a", 4, max_attempts=1)
    return s


def _stats(docs: int) -> str:
    reader = BlockStats("JsonlReader", "reader")
    for _ in range(docs):
        reader.stats["documents"].update(1)
    return json.dumps(PipelineStats(blocks=[reader]).to_dict())


def _complete(store: StateStore, rank: int, docs: int) -> None:
    claim = store.claim("p", "a", rank, "w", 30)
    store.complete("p", "a", rank, claim.token, _stats(docs))


def test_watcher_draws_stages_and_counts_documents(store: StateStore) -> None:
    _complete(store, 0, 500)  # done before the watch began: not part of the rate
    stream = io.StringIO()
    now = [100.0]
    watcher = RunWatcher(store, "p", stream=stream, clock=lambda: now[0], docs_every=0)
    watcher.poll()
    assert watcher.rate.docs == 0 and watcher.docs_per_second() == 0.0
    running = store.claim("p", "a", 1, "w", 30)
    watcher.poll()  # a shard is running: the clock starts
    now[0] = 110.0
    store.complete("p", "a", 1, running.token, _stats(120))
    _complete(store, 2, 80)
    status = watcher.poll()
    watcher.close()
    assert status["stages"][0]["done"] == 3
    assert watcher.rate.docs == 200 and watcher.docs_per_second() == pytest.approx(20.0)
    text = stream.getvalue()
    assert "a" in text and "3/4" in text and "20 docs/s" in text


def test_documents_of_reads_the_first_block() -> None:
    assert documents_of(_stats(7)) == 7
    assert documents_of("not json") == 0
    assert documents_of(json.dumps({"blocks": []})) == 0


def test_stuck_only_when_every_rank_is_done_or_failed(store: StateStore) -> None:
    for rank in (0, 1, 2):
        _complete(store, rank, 1)
    assert not is_finished(store.status("p"))
    claim = store.claim("p", "a", 3, "w", 30)
    assert not is_stuck(store.status("p")), "a running rank can still finish"
    store.record_failure("p", "a", 3, claim.token, "boom", "", "w", 1, final=True)
    status = store.status("p")
    assert is_stuck(status) and is_finished(status) and not status["complete"]
    final = watch_run(store, "p", poll=0.01, progress=False, timeout=5)
    assert final["stages"][0] == {"name": "a", "tasks": 4, "done": 3, "failed": 1, "running": 0}
