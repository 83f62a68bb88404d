"""StateStore: the claim/lease/complete protocol, failures, status, keys — on fakeredis (fast)
and on a real redis-server (integration), with a fake clock instead of sleeping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dispatcher.errors import InsecureRedisError, InvalidRunIdError, RunConflictError
from dispatcher.state import LOG_CAP, FailureRecord, StateStore, check_redis_url
from tests.redis_server import (  # noqa: F401  (pytest fixtures)
    fake_redis,
    redis_server,
    redis_server_session,
)


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _spec(*stages: tuple[str, int]) -> str:
    return json.dumps(
        {"name": "t", "stages": [{"name": n, "tasks": k, "pipeline": []} for n, k in stages]}
    )


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.integration)])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fake":
        yield request.getfixturevalue("fake_redis")
    else:
        yield request.getfixturevalue("redis_server").client()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(client: Any, clock: Clock) -> StateStore:
    return StateStore(client, clock=clock)


def _run(store: StateStore, run_id: str = "r1", tasks: int = 3, max_attempts: int = 3) -> None:
    store.create_run(run_id, _spec(("a", tasks)), "h1", {"queue": "q"})
    store.set_stage_plan(run_id, "a", tasks, max_attempts=max_attempts)


def test_create_run_once_and_refuse_a_changed_spec(store: StateStore) -> None:
    assert store.create_run("r1", _spec(("a", 2)), "h1", {"x": 1}) is True
    assert store.create_run("r1", _spec(("a", 2)), "h1", {"x": 1}) is False
    with pytest.raises(RunConflictError) as info:
        store.create_run("r1", _spec(("a", 3)), "h2")
    assert info.value.exit_code == 2
    record = store.get_run("r1")
    assert record is not None
    assert (record.spec_hash, record.options) == ("h1", {"x": 1})
    assert store.create_run("r1", _spec(("a", 3)), "h2", force=True) is True
    record = store.get_run("r1")
    assert record is not None and record.spec_hash == "h2"
    assert record.spec["stages"][0]["tasks"] == 3
    assert store.get_run("nope") is None
    store.create_run("r2", _spec(("a", 1)), "h")
    assert store.list_runs() == ["r1", "r2"]


@pytest.mark.parametrize("bad", ["", "a b", "x{y}", "a*", "-lead", "a:b", "é"])
def test_run_ids_that_cannot_live_in_a_key_are_refused(store: StateStore, bad: str) -> None:
    with pytest.raises(InvalidRunIdError):
        store.create_run(bad, _spec(("a", 1)), "h")


def test_odd_stage_names_are_encoded_not_trusted(store: StateStore) -> None:
    store.create_run("r1", _spec(("x}:*", 1)), "h")
    store.set_stage_plan("r1", "x}:*", 1)
    claim = store.claim("r1", "x}:*", 0, "w", 10)
    assert claim.acquired
    assert store.complete("r1", "x}:*", 0, claim.token, "{}").stage_done
    assert all(k.startswith("sy:{r1}:") for k in store.keys("r1"))
    assert not any("x}" in k for k in store.keys("r1"))


def test_claim_busy_done_and_stats_written_once(store: StateStore) -> None:
    _run(store)
    first = store.claim("r1", "a", 0, "w1", 30)
    assert (first.status, first.attempt, first.lease_expires) == ("acquired", 1, 1030.0)
    busy = store.claim("r1", "a", 0, "w2", 30)
    assert (busy.status, busy.owner, busy.lease_expires) == ("busy", first.token, 1030.0)
    done = store.complete("r1", "a", 0, first.token, '{"n": 1}')
    assert (done.completed, done.already_done, done.stage_done, done.done) == (
        True,
        False,
        False,
        1,
    )
    again = store.complete("r1", "a", 0, first.token, '{"n": 2}')
    assert (again.completed, again.already_done) == (False, True)
    assert store.stats("r1", "a") == {0: '{"n": 1}'}
    assert store.claim("r1", "a", 0, "w3", 30).status == "done"
    assert store.done_ranks("r1", "a") == {0}
    assert store.pending_ranks("r1", "a") == [1, 2]


def test_lease_expiry_takeover_with_fake_clock(store: StateStore, clock: Clock) -> None:
    _run(store)
    old = store.claim("r1", "a", 1, "w1", 10)
    clock.now += 5
    assert store.renew("r1", "a", 1, old.token, 10)  # expiry now 1015
    clock.now += 9.5
    assert store.claim("r1", "a", 1, "w2", 10).status == "busy"  # lease runs to 1015
    assert store.live_leases("r1", "a") == [1] and store.expired_leases("r1", "a") == []
    clock.now += 0.5
    assert store.expired_leases("r1", "a") == [1]
    assert store.live_leases("r1", "a") == []
    new = store.claim("r1", "a", 1, "w2", 10)
    assert (new.status, new.attempt) == ("acquired", 2)
    assert store.renew("r1", "a", 1, old.token, 10) is False
    assert not store.holds_lease("r1", "a", 1, old.token)
    lost = store.complete("r1", "a", 1, old.token, "{}")
    assert (lost.completed, lost.already_done) == (False, False)
    assert store.complete("r1", "a", 1, new.token, "{}").completed
    assert store.stats("r1", "a") == {1: "{}"}


def test_expired_but_not_taken_over_lease_still_completes(store: StateStore, clock: Clock) -> None:
    _run(store)
    claim = store.claim("r1", "a", 0, "w1", 10)
    clock.now += 100
    assert store.holds_lease("r1", "a", 0, claim.token)
    assert store.complete("r1", "a", 0, claim.token, "{}").completed


def test_attempts_spent_then_failed_until_reset(store: StateStore, clock: Clock) -> None:
    _run(store, max_attempts=2)
    for attempt in (1, 2):
        claim = store.claim("r1", "a", 2, "w1", 10)
        assert (claim.status, claim.attempt) == ("acquired", attempt)
        store.record_failure("r1", "a", 2, claim.token, "RuntimeError: x", "tb", "w1", attempt)
    assert store.claim("r1", "a", 2, "w1", 10).status == "failed"
    assert store.failed_ranks("r1", "a") == [2]
    record = store.failures("r1", "a")[2]
    assert (record.error, record.traceback, record.worker, record.attempt, record.time) == (
        "RuntimeError: x",
        "tb",
        "w1",
        2,
        1000.0,
    )
    store.reset_ranks("r1", "a", [2])
    assert store.failed_ranks("r1", "a") == []
    assert store.failures("r1", "a") == {}
    assert store.claim("r1", "a", 2, "w1", 10).attempt == 1


def test_a_worker_dying_on_its_last_attempt_leaves_the_rank_failed(
    store: StateStore, clock: Clock
) -> None:
    _run(store, max_attempts=1)
    store.claim("r1", "a", 0, "w1", 10)
    assert store.status("r1")["stages"][0]["running"] == 1
    assert store.failed_ranks("r1", "a") == []  # still running
    clock.now += 11
    assert store.failed_ranks("r1", "a") == [0]
    assert store.claim("r1", "a", 0, "w2", 10).status == "failed"
    assert store.live_leases("r1", "a") == [] and store.expired_leases("r1", "a") == []


def test_final_failure_spends_the_remaining_attempts(store: StateStore) -> None:
    _run(store, max_attempts=3)
    claim = store.claim("r1", "a", 0, "w1", 10)
    store.record_failure("r1", "a", 0, claim.token, "SpecError", "tb", "w1", 1, final=True)
    assert store.attempts("r1", "a") == {0: 3}
    assert store.failures("r1", "a")[0].final is True
    assert store.claim("r1", "a", 0, "w1", 10).status == "failed"


def test_failure_drops_the_lease_so_a_retry_claims_at_once(store: StateStore) -> None:
    _run(store)
    claim = store.claim("r1", "a", 0, "w1", 60)
    store.record_failure("r1", "a", 0, claim.token, "E", "tb", "w1", 1)
    retry = store.claim("r1", "a", 0, "w1", 60)
    assert (retry.status, retry.attempt) == ("acquired", 2)
    store.complete("r1", "a", 0, retry.token, "{}")
    assert store.failures("r1", "a") == {}


def test_release_gives_the_shard_back_without_using_an_attempt(store: StateStore) -> None:
    _run(store)
    claim = store.claim("r1", "a", 0, "w1", 60)
    assert store.release("r1", "a", 0, "w9:other", refund_attempt=True) is False
    assert store.release("r1", "a", 0, claim.token) is True
    assert store.attempts("r1", "a") == {}
    assert store.claim("r1", "a", 0, "w2", 60).attempt == 1
    claim2 = store.claim("r1", "a", 1, "w1", 60)
    store.release("r1", "a", 1, claim2.token, refund_attempt=False)
    assert store.attempts("r1", "a")[1] == 1


def test_stage_done_and_advanced_exactly_once(store: StateStore) -> None:
    _run(store, tasks=2)
    results = []
    for rank in (1, 0):
        claim = store.claim("r1", "a", rank, "w", 10)
        results.append(store.complete("r1", "a", rank, claim.token, "{}"))
    assert [r.stage_done for r in results] == [False, True]
    assert store.stage_complete("r1", "a")
    assert store.mark_stage_advanced("r1", "a") is True
    assert store.mark_stage_advanced("r1", "a") is False
    store.clear_stage_advanced("r1", "a")
    assert not store.stage_advanced("r1", "a")


def test_cancel_stops_claims_and_renewals(store: StateStore) -> None:
    _run(store)
    claim = store.claim("r1", "a", 0, "w1", 10)
    store.cancel("r1")
    assert store.is_cancelled("r1")
    assert store.claim("r1", "a", 1, "w1", 10).status == "cancelled"
    assert store.renew("r1", "a", 0, claim.token, 10) is False
    store.uncancel("r1")
    assert store.claim("r1", "a", 1, "w1", 10).acquired


def test_status_shape_and_counts(store: StateStore, clock: Clock) -> None:
    store.create_run("r1", _spec(("a", 3), ("b", 5)), "h")
    assert store.status("r1") == {
        "complete": False,
        "stages": [
            {"name": "a", "tasks": 3, "done": 0, "failed": 0, "running": 0},
            {"name": "b", "tasks": 5, "done": 0, "failed": 0, "running": 0},
        ],
    }
    store.set_stage_plan("r1", "a", 4, max_attempts=1)
    c0 = store.claim("r1", "a", 0, "w", 10)
    store.complete("r1", "a", 0, c0.token, "{}")
    c1 = store.claim("r1", "a", 1, "w", 10)
    store.record_failure("r1", "a", 1, c1.token, "E", "", "w", 1)
    store.claim("r1", "a", 2, "w", 10)
    assert store.status("r1")["stages"][0] == {
        "name": "a",
        "tasks": 4,
        "done": 1,
        "failed": 1,
        "running": 1,
    }
    assert store.status("nope") == {"complete": False, "stages": []}


def test_plans_round_trip_with_file_assignments(store: StateStore) -> None:
    _run(store)
    shards = [[["a.jsonl", None, None]], None, [["b.jsonl", 0, 10], ["b.jsonl", 10, 20]]]
    store.set_stage_plan("r1", "a", 3, shards, max_attempts=5)
    plan = store.stage_plan("r1", "a")
    assert plan is not None
    assert (plan.tasks, plan.shards, plan.max_attempts) == (3, shards, 5)
    assert store.shard_files("r1", "a", 2) == shards[2]
    assert store.shard_files("r1", "a", 1) is None
    assert store.stage_plan("r1", "zz") is None
    with pytest.raises(ValueError):
        store.set_stage_plan("r1", "a", 2, shards)


def test_logs_are_capped_per_shard(store: StateStore) -> None:
    _run(store)
    store.append_log("r1", "a", 0, [f"line {i}" for i in range(LOG_CAP + 50)])
    store.append_log("r1", "a", 0, ["last"])
    lines = store.logs("r1", "a", 0)
    assert len(lines) == LOG_CAP
    assert lines[-1] == "last" and lines[0] == "line 51"
    assert store.logs("r1", "a", 1) == []


def test_pipeline_groups_writes_into_one_transaction(store: StateStore) -> None:
    _run(store)
    pipe = store.redis.pipeline(transaction=True)
    store.cancel("r1", pipeline=pipe)
    store.append_log("r1", "a", 0, ["x"], pipeline=pipe)
    store.reset_ranks("r1", "a", [0], pipeline=pipe)
    assert not store.is_cancelled("r1")  # nothing sent before execute
    pipe.execute()
    assert store.is_cancelled("r1") and store.logs("r1", "a", 0) == ["x"]


def test_exact_key_set_of_a_finished_two_stage_run(store: StateStore) -> None:
    store.create_run("r1", _spec(("a", 2), ("b", 1)), "h")
    for stage, tasks in (("a", 2), ("b", 1)):
        store.set_stage_plan("r1", stage, tasks, [[["f", None, None]]] * tasks)
        for rank in range(tasks):
            claim = store.claim("r1", stage, rank, "w", 10)
            if rank == 0:  # a failed first attempt leaves no trace once completed
                store.record_failure("r1", stage, rank, claim.token, "E", "", "w", 1)
                claim = store.claim("r1", stage, rank, "w", 10)
            store.append_log("r1", stage, rank, ["done"])
            done = store.complete("r1", stage, rank, claim.token, "{}")
        assert done.stage_done and store.mark_stage_advanced("r1", stage)
    expected = {
        "sy:{r1}:meta",
        *(
            f"sy:{{r1}}:s:{stage}:{part}"
            for stage in ("a", "b")
            for part in ("plan", "done", "stats", "attempts", "advanced")
        ),
        "sy:{r1}:s:a:log:0",
        "sy:{r1}:s:a:log:1",
        "sy:{r1}:s:b:log:0",
    }
    assert set(store.keys("r1")) == expected
    assert {k for k in store.redis.keys("*") if not k.startswith("sy:{r1}:")} == {"sy:runs"}
    assert store.delete_run("r1") == len(expected)
    assert store.redis.keys("*") == []


def test_rejected_messages_are_kept_capped(store: StateStore) -> None:
    for i in range(LOG_CAP + 3):
        store.record_rejected(f"msg {i}", "bad", "w1")
    rejected = store.rejected()
    assert len(rejected) == LOG_CAP
    assert rejected[0]["message"] == f"msg {LOG_CAP + 2}" and rejected[0]["error"] == "bad"


def test_failure_record_json_round_trip() -> None:
    record = FailureRecord("E: x", "tb\nline", "w1", 12.5, 2, final=True)
    assert FailureRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    ("url", "insecure", "ok"),
    [
        ("redis://127.0.0.1:6379/0", False, True),
        ("redis://localhost:6379/0", False, True),
        ("redis://[::1]:6379/0", False, True),
        ("redis://:pw@10.0.0.5:6379/0", False, True),
        ("redis://10.0.0.5:6379/0", False, False),
        ("redis://redis.example:6379/0", False, False),
        ("redis://redis.example:6379/0", True, True),
        ("unix:///tmp/redis.sock", False, True),
        ("http://127.0.0.1:6379", False, False),
    ],
)
def test_passwordless_remote_redis_is_refused(url: str, insecure: bool, ok: bool) -> None:
    if ok:
        check_redis_url(url, insecure=insecure)
        StateStore.from_url(url, insecure=insecure)  # lazy: no connection is made
    else:
        with pytest.raises(InsecureRedisError):
            StateStore.from_url(url, insecure=insecure)
