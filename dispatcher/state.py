"""Run state in Redis: the only module that names Redis keys.

Redis is the source of truth of a run: the stored spec, each stage's plan, which ranks
are done, their stats (written once), leases, attempts and failures. Celery only carries
messages and delivers them at least once; the claim/complete protocol here makes a shard
delivered several times run once and count once.

Key layout (``{run}`` is a Redis Cluster hash tag, so a whole run lives in one slot and
every script below touches one slot only)::

    sy:runs                        zset   run id -> creation time (global)
    sy:rejected                    list   undecodable messages and why (global, capped)
    sy:{run}:meta                  hash   spec_json, spec_hash, options (JSON), created
    sy:{run}:cancelled             string time of `cancel`
    sy:{run}:s:<stage>:plan        hash   tasks, max_attempts, r:<rank> -> files JSON
    sy:{run}:s:<stage>:done        set    finished ranks
    sy:{run}:s:<stage>:stats       hash   rank -> stats JSON (HSETNX: first completion wins)
    sy:{run}:s:<stage>:attempts    hash   rank -> claims taken (preemptions refunded)
    sy:{run}:s:<stage>:leases      zset   rank -> lease expiry (epoch seconds, client clock)
    sy:{run}:s:<stage>:owners      hash   rank -> token of the claim holding the lease
    sy:{run}:s:<stage>:failed      hash   rank -> last failure JSON
    sy:{run}:s:<stage>:advanced    string set once when the stage's completion was acted on
    sy:{run}:s:<stage>:log:<rank>  list   the shard's last LOG_CAP log lines

Stage names that are not ``[A-Za-z0-9_.-]+`` are hex-encoded behind a ``%``. Lease
expiry compares the callers' clocks (``clock=``, injectable for tests); keep worker
clocks in sync within a fraction of the lease length.

Checks and their writes run as Lua scripts (one round trip, atomic, one slot). Methods
whose answer depends on such a check (claim, renew, release, complete, record_failure,
mark_stage_advanced) are atomic on their own; the pure writes accept ``pipeline=`` so a
caller can group them into its own transaction (rq style).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

from dispatcher.errors import InsecureRedisError, InvalidRunIdError, RunConflictError

RUNS_KEY = "sy:runs"
REJECTED_KEY = "sy:rejected"
LOG_CAP = 200
DEFAULT_MAX_ATTEMPTS = 3
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_SAFE_STAGE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

ClaimStatus = Literal["acquired", "done", "busy", "failed", "cancelled"]

# -- Lua scripts ---------------------------------------------------------------------
# KEYS: done, leases, owners, attempts, plan, cancelled
# ARGV: rank, token, now, expiry, max_attempts ("" = from the plan)
_CLAIM = """
local rank = ARGV[1]
local attempts = tonumber(redis.call('HGET', KEYS[4], rank) or '0')
if redis.call('SISMEMBER', KEYS[1], rank) == 1 then return {'done', '', attempts, ''} end
if redis.call('EXISTS', KEYS[6]) == 1 then return {'cancelled', '', attempts, ''} end
local exp = redis.call('ZSCORE', KEYS[2], rank)
if exp and tonumber(exp) > tonumber(ARGV[3]) then
  return {'busy', redis.call('HGET', KEYS[3], rank) or '', attempts, exp}
end
local maxa = tonumber(ARGV[5])
if not maxa then maxa = tonumber(redis.call('HGET', KEYS[5], 'max_attempts') or '3') end
if attempts >= maxa then
  redis.call('ZREM', KEYS[2], rank)
  redis.call('HDEL', KEYS[3], rank)
  return {'failed', '', attempts, ''}
end
attempts = redis.call('HINCRBY', KEYS[4], rank, 1)
redis.call('ZADD', KEYS[2], ARGV[4], rank)
redis.call('HSET', KEYS[3], rank, ARGV[2])
return {'acquired', ARGV[2], attempts, ARGV[4]}
"""

# KEYS: owners, leases, cancelled   ARGV: rank, token, expiry
_RENEW = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS: owners, leases, attempts   ARGV: rank, token, refund ('1' gives the attempt back)
_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] == '1' then
  if redis.call('HINCRBY', KEYS[3], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[1]) end
end
return 1
"""

# KEYS: owners, leases, done, stats, failed, plan   ARGV: rank, token, stats_json
# returns {status, stage_done, done_count}: status 1 completed, 0 already done, -1 lease lost
_COMPLETE = """
local tasks = tonumber(redis.call('HGET', KEYS[6], 'tasks') or '-1')
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  local n = redis.call('SCARD', KEYS[3])
  return {0, (n == tasks) and 1 or 0, n}
end
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return {-1, 0, redis.call('SCARD', KEYS[3])} end
redis.call('HSETNX', KEYS[4], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
local n = redis.call('SCARD', KEYS[3])
return {1, (n == tasks) and 1 or 0, n}
"""

# KEYS: owners, leases, failed, attempts, plan   ARGV: rank, token, record_json, final
# The lease is dropped only when the token still owns it; a final failure spends the
# remaining attempts so the rank stays failed until requeued.
_FAIL = """
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
if ARGV[4] == '1' then
  local maxa = tonumber(redis.call('HGET', KEYS[5], 'max_attempts') or '3')
  if tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0') < maxa then
    redis.call('HSET', KEYS[4], ARGV[1], maxa)
  end
end
return 1
"""


# -- records -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunRecord:
    """A stored run: its spec (canonical JSON), the spec's hash and submit options."""

    run_id: str
    spec_json: str
    spec_hash: str
    options: dict[str, Any]
    created: float

    @property
    def spec(self) -> dict[str, Any]:
        """The decoded spec mapping (feed it to ``PipelineSpec.from_dict``)."""
        data: dict[str, Any] = json.loads(self.spec_json)
        return data


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to :meth:`StateStore.claim`.

    ``acquired``: the caller holds the lease (``token``) and runs attempt ``attempt``;
    ``done``: skip, the rank is finished; ``busy``: another live lease (``owner``) holds it
    until ``lease_expires``; ``failed``: attempts are spent; ``cancelled``: the run was cancelled.
    """

    status: ClaimStatus
    token: str = ""
    attempt: int = 0
    lease_expires: float | None = None
    owner: str = ""

    @property
    def acquired(self) -> bool:
        return self.status == "acquired"


@dataclass(frozen=True, slots=True)
class CompleteResult:
    """The answer to :meth:`StateStore.complete`.

    ``completed``: this call marked the rank done and stored its stats. ``already_done``:
    the rank was finished before (a duplicate, or a retry whose first reply was lost).
    Neither: the lease was lost to another claim. ``stage_done``: every rank of the stage
    is done (true for whichever caller sees it; :meth:`mark_stage_advanced` picks one).
    """

    completed: bool
    stage_done: bool
    already_done: bool = False
    done: int = 0


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """The last failure of a rank: what was raised, where, when, on which attempt."""

    error: str
    traceback: str
    worker: str
    time: float
    attempt: int
    final: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> FailureRecord:
        data = json.loads(raw)
        return cls(
            error=str(data.get("error", "")),
            traceback=str(data.get("traceback", "")),
            worker=str(data.get("worker", "")),
            time=float(data.get("time", 0.0)),
            attempt=int(data.get("attempt", 0)),
            final=bool(data.get("final", False)),
        )


@dataclass(frozen=True, slots=True)
class StagePlan:
    """A planned stage: ``tasks`` ranks, each with its files (None: the reader's own split)."""

    tasks: int
    shards: list[list[Any] | None] = field(default_factory=list)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def check_run_id(run_id: str) -> str:
    """Refuse run ids that cannot live inside a key (``{``, ``}``, ``*``, spaces...)."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidRunIdError(
            f"invalid run id {run_id!r}: use 1-200 letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    return run_id


def _stage_part(stage: str) -> str:
    if not isinstance(stage, str) or not stage:
        raise InvalidRunIdError(f"invalid stage name {stage!r}")
    if _SAFE_STAGE.match(stage):
        return stage
    return "%" + stage.encode().hex()


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if not host:
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_redis_url(url: str, *, insecure: bool = False) -> None:
    """Refuse a passwordless Redis that is not on this machine, unless ``insecure``."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss", "unix"):
        raise InsecureRedisError(f"not a Redis URL: {url!r} (use redis://, rediss:// or unix://)")
    if parsed.scheme == "unix" or insecure:
        return
    if parsed.password is None and not is_loopback_host(parsed.hostname):
        raise InsecureRedisError(
            f"refusing passwordless Redis at {parsed.hostname}: anyone on the network could "
            "change the run; put a password in the URL (redis://:PASS@host:6379/0) or pass --insecure"
        )


# -- the store -----------------------------------------------------------------------
class StateStore:
    """Run state over one Redis client (``redis.Redis``; fakeredis for unit tests)."""

    def __init__(self, redis_client: Any, *, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis_client
        self.clock = clock
        self._claim = redis_client.register_script(_CLAIM)
        self._renew = redis_client.register_script(_RENEW)
        self._release = redis_client.register_script(_RELEASE)
        self._complete = redis_client.register_script(_COMPLETE)
        self._fail = redis_client.register_script(_FAIL)

    @classmethod
    def from_url(
        cls, url: str, *, insecure: bool = False, clock: Callable[[], float] = time.time
    ) -> StateStore:
        """Connect to ``url`` (checked by :func:`check_redis_url`) with retries on lost
        connections, so a Redis restart mid-run is ridden out instead of failing shards."""
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        check_redis_url(url, insecure=insecure)
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), 12),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            health_check_interval=30,
            socket_keepalive=True,
        )
        return cls(client, clock=clock)

    # -- keys -----------------------------------------------------------------------
    @staticmethod
    def _run_key(run_id: str, part: str) -> str:
        return f"sy:{{{check_run_id(run_id)}}}:{part}"

    @classmethod
    def _stage_key(cls, run_id: str, stage: str, part: str) -> str:
        return cls._run_key(run_id, f"s:{_stage_part(stage)}:{part}")

    def _stage_keys(self, run_id: str, stage: str, *parts: str) -> list[str]:
        return [self._stage_key(run_id, stage, p) for p in parts]

    def keys(self, run_id: str) -> list[str]:
        """Every key this run has in Redis, sorted (``sy:runs`` not included)."""
        pattern = self._run_key(run_id, "*")
        return sorted(_s(k) for k in self.redis.scan_iter(match=pattern, count=1000))

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now

    # -- runs -----------------------------------------------------------------------
    def create_run(
        self,
        run_id: str,
        spec_json: str,
        spec_hash: str,
        options: Mapping[str, Any] | None = None,
        *,
        force: bool = False,
    ) -> bool:
        """Store a run once. True when created (or replaced with ``force``); False when the
        same spec is already stored; :class:`RunConflictError` for a different spec hash."""
        meta = self._run_key(run_id, "meta")
        fields = {
            "spec_json": spec_json,
            "spec_hash": spec_hash,
            "options": json.dumps(dict(options or {}), sort_keys=True),
            "created": repr(self.clock()),
        }
        if not self.redis.hsetnx(meta, "spec_hash", spec_hash):
            stored = _s(self.redis.hget(meta, "spec_hash"))
            if stored == spec_hash:
                return False
            if not force:
                raise RunConflictError(run_id, stored, spec_hash)
        # ``force`` replaces the spec only; progress of the old spec stays (delete_run first
        # to start from nothing).
        self.redis.hset(meta, mapping=fields)
        self.redis.zadd(RUNS_KEY, {run_id: float(fields["created"])})
        return True

    def get_run(self, run_id: str) -> RunRecord | None:
        raw = self.redis.hgetall(self._run_key(run_id, "meta"))
        if not raw or "spec_json" not in {_s(k) for k in raw}:
            return None
        data = {_s(k): _s(v) for k, v in raw.items()}
        return RunRecord(
            run_id=run_id,
            spec_json=data["spec_json"],
            spec_hash=data["spec_hash"],
            options=json.loads(data.get("options") or "{}"),
            created=float(data.get("created") or 0.0),
        )

    def list_runs(self) -> list[str]:
        """Run ids, oldest first."""
        return [_s(r) for r in self.redis.zrange(RUNS_KEY, 0, -1)]

    def delete_run(self, run_id: str) -> int:
        """Remove every key of the run; returns how many were deleted."""
        keys = self.keys(run_id)
        for i in range(0, len(keys), 500):
            self.redis.delete(*keys[i : i + 500])
        self.redis.zrem(RUNS_KEY, run_id)
        return len(keys)

    def cancel(self, run_id: str, *, pipeline: Any = None) -> None:
        """Cancel the run: new claims answer ``cancelled`` and running shards lose their lease
        at the next heartbeat."""
        (pipeline or self.redis).set(self._run_key(run_id, "cancelled"), repr(self.clock()))

    def uncancel(self, run_id: str, *, pipeline: Any = None) -> None:
        (pipeline or self.redis).delete(self._run_key(run_id, "cancelled"))

    def is_cancelled(self, run_id: str) -> bool:
        return bool(self.redis.exists(self._run_key(run_id, "cancelled")))

    # -- plans ----------------------------------------------------------------------
    def set_stage_plan(
        self,
        run_id: str,
        stage: str,
        tasks: int,
        shards: Sequence[Sequence[Any] | None] | None = None,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        pipeline: Any = None,
    ) -> None:
        """Store a stage's plan: ``tasks`` ranks and, per rank, its files as JSON lists of
        ``[path, start, end]`` (None: the reader splits its own listing)."""
        if shards is not None and len(shards) != tasks:
            raise ValueError(f"{len(shards)} shard assignments for {tasks} tasks")
        mapping: dict[str, str] = {"tasks": str(tasks), "max_attempts": str(max_attempts)}
        for rank, files in enumerate(shards or ()):
            if files is not None:
                mapping[f"r:{rank}"] = json.dumps(list(files), separators=(",", ":"))
        key = self._stage_key(run_id, stage, "plan")
        client = pipeline or self.redis.pipeline(transaction=True)
        client.delete(key)
        client.hset(key, mapping=mapping)
        if pipeline is None:
            client.execute()

    def stage_plan(self, run_id: str, stage: str) -> StagePlan | None:
        raw = self.redis.hgetall(self._stage_key(run_id, stage, "plan"))
        if not raw:
            return None
        data = {_s(k): _s(v) for k, v in raw.items()}
        tasks = int(data["tasks"])
        shards: list[list[Any] | None] = [None] * tasks
        for key, value in data.items():
            if key.startswith("r:"):
                shards[int(key[2:])] = json.loads(value)
        return StagePlan(
            tasks=tasks,
            shards=shards,
            max_attempts=int(data.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
        )

    def shard_files(self, run_id: str, stage: str, rank: int) -> list[Any] | None:
        raw = self.redis.hget(self._stage_key(run_id, stage, "plan"), f"r:{rank}")
        return None if raw is None else list(json.loads(_s(raw)))

    # -- the shard protocol ---------------------------------------------------------
    def claim(
        self,
        run_id: str,
        stage: str,
        rank: int,
        worker_id: str,
        lease_seconds: float,
        *,
        max_attempts: int | None = None,
    ) -> Claim:
        """Atomically: done -> skip; live lease of another -> busy; attempts spent -> failed;
        else take the lease for ``lease_seconds`` and count an attempt."""
        now = self.clock()
        token = f"{worker_id}:{uuid.uuid4().hex}"
        keys = [
            *self._stage_keys(run_id, stage, "done", "leases", "owners", "attempts", "plan"),
            self._run_key(run_id, "cancelled"),
        ]
        argv = [
            rank,
            token,
            repr(now),
            repr(now + lease_seconds),
            "" if max_attempts is None else max_attempts,
        ]
        status, tok, attempts, expiry = self._claim(keys=keys, args=argv)
        status = _s(status)
        expires = float(_s(expiry)) if _s(expiry) else None
        if status == "busy":
            return Claim("busy", attempt=int(attempts), lease_expires=expires, owner=_s(tok))
        if status == "acquired":
            return Claim("acquired", token=_s(tok), attempt=int(attempts), lease_expires=expires)
        return Claim(status, attempt=int(attempts))  # type: ignore[arg-type]

    def renew(self, run_id: str, stage: str, rank: int, token: str, lease_seconds: float) -> bool:
        """Heartbeat: extend the lease. False when the lease was taken over or the run cancelled."""
        keys = [
            *self._stage_keys(run_id, stage, "owners", "leases"),
            self._run_key(run_id, "cancelled"),
        ]
        result = self._renew(keys=keys, args=[rank, token, repr(self.clock() + lease_seconds)])
        return int(result) == 1

    def holds_lease(self, run_id: str, stage: str, rank: int, token: str) -> bool:
        """Whether ``token`` still owns the rank (expired but not taken over counts)."""
        owner = self.redis.hget(self._stage_key(run_id, stage, "owners"), rank)
        return owner is not None and _s(owner) == token

    def release(
        self, run_id: str, stage: str, rank: int, token: str, *, refund_attempt: bool = True
    ) -> bool:
        """Give the shard back (preemption, shutdown) without counting the attempt as used."""
        keys = self._stage_keys(run_id, stage, "owners", "leases", "attempts")
        result = self._release(keys=keys, args=[rank, token, "1" if refund_attempt else "0"])
        return int(result) == 1

    def complete(
        self, run_id: str, stage: str, rank: int, token: str, stats_json: str
    ) -> CompleteResult:
        """In one atomic step: check the token owns the lease, store the stats (HSETNX), mark
        the rank done, drop lease and failure record. See :class:`CompleteResult`."""
        keys = self._stage_keys(
            run_id, stage, "owners", "leases", "done", "stats", "failed", "plan"
        )
        status, stage_done, done = self._complete(keys=keys, args=[rank, token, stats_json])
        return CompleteResult(
            completed=int(status) == 1,
            stage_done=int(stage_done) == 1,
            already_done=int(status) == 0,
            done=int(done),
        )

    def record_failure(
        self,
        run_id: str,
        stage: str,
        rank: int,
        token: str,
        error: str,
        traceback_tail: str,
        worker: str,
        attempt: int,
        *,
        final: bool = False,
    ) -> FailureRecord:
        """Store the rank's last failure and drop its lease (when ``token`` still holds it) so a
        retry can claim at once. ``final`` spends the remaining attempts (retrying cannot help)."""
        record = FailureRecord(
            error=error,
            traceback=traceback_tail,
            worker=worker,
            time=self.clock(),
            attempt=attempt,
            final=final,
        )
        keys = self._stage_keys(run_id, stage, "owners", "leases", "failed", "attempts", "plan")
        self._fail(keys=keys, args=[rank, token, record.to_json(), "1" if final else "0"])
        return record

    def mark_stage_advanced(self, run_id: str, stage: str) -> bool:
        """True for exactly one caller: the one that merges the stage's stats and enqueues
        the next stage."""
        key = self._stage_key(run_id, stage, "advanced")
        return bool(self.redis.set(key, repr(self.clock()), nx=True))

    def clear_stage_advanced(self, run_id: str, stage: str) -> None:
        """Undo :meth:`mark_stage_advanced` when acting on it failed, so it can be retried."""
        self.redis.delete(self._stage_key(run_id, stage, "advanced"))

    def stage_advanced(self, run_id: str, stage: str) -> bool:
        return bool(self.redis.exists(self._stage_key(run_id, stage, "advanced")))

    # -- reading --------------------------------------------------------------------
    def done_ranks(self, run_id: str, stage: str) -> set[int]:
        return {int(r) for r in self.redis.smembers(self._stage_key(run_id, stage, "done"))}

    def pending_ranks(self, run_id: str, stage: str) -> list[int]:
        """Ranks of the planned stage not done yet (empty when the stage is not planned)."""
        plan = self.redis.hget(self._stage_key(run_id, stage, "plan"), "tasks")
        if plan is None:
            return []
        done = self.done_ranks(run_id, stage)
        return [r for r in range(int(_s(plan))) if r not in done]

    def stage_complete(self, run_id: str, stage: str) -> bool:
        plan = self.redis.hget(self._stage_key(run_id, stage, "plan"), "tasks")
        done = self.redis.scard(self._stage_key(run_id, stage, "done"))
        return plan is not None and int(done) == int(_s(plan))

    def stats(self, run_id: str, stage: str) -> dict[int, str]:
        """Rank -> the stats JSON its completion stored."""
        raw = self.redis.hgetall(self._stage_key(run_id, stage, "stats"))
        return {int(_s(k)): _s(v) for k, v in raw.items()}

    def attempts(self, run_id: str, stage: str) -> dict[int, int]:
        raw = self.redis.hgetall(self._stage_key(run_id, stage, "attempts"))
        return {int(_s(k)): int(_s(v)) for k, v in raw.items()}

    def failures(self, run_id: str, stage: str) -> dict[int, FailureRecord]:
        """Rank -> its last failure, for ranks not completed since."""
        raw = self.redis.hgetall(self._stage_key(run_id, stage, "failed"))
        return {int(_s(k)): FailureRecord.from_json(_s(v)) for k, v in raw.items()}

    def failed_ranks(self, run_id: str, stage: str, *, now: float | None = None) -> list[int]:
        """Ranks that will not run again without a requeue: not done, attempts spent, no live
        lease (their last attempt failed, or its worker died)."""
        plan = self.stage_plan_header(run_id, stage)
        if plan is None:
            return []
        _tasks, max_attempts = plan
        done = self.done_ranks(run_id, stage)
        live = set(self.live_leases(run_id, stage, now=now))
        return sorted(
            rank
            for rank, n in self.attempts(run_id, stage).items()
            if n >= max_attempts and rank not in done and rank not in live
        )

    def stage_plan_header(self, run_id: str, stage: str) -> tuple[int, int] | None:
        """(tasks, max_attempts) of a planned stage, without its shard assignments."""
        tasks, max_attempts = self.redis.hmget(
            self._stage_key(run_id, stage, "plan"), ["tasks", "max_attempts"]
        )
        if tasks is None:
            return None
        return int(_s(tasks)), int(_s(max_attempts or DEFAULT_MAX_ATTEMPTS))

    def live_leases(self, run_id: str, stage: str, *, now: float | None = None) -> list[int]:
        """Ranks whose lease has not expired at ``now``."""
        key = self._stage_key(run_id, stage, "leases")
        return [int(_s(r)) for r in self.redis.zrangebyscore(key, f"({self._now(now)!r}", "+inf")]

    def expired_leases(self, run_id: str, stage: str, now: float | None = None) -> list[int]:
        """Ranks whose lease expired at ``now`` without completion or release (dead workers)."""
        key = self._stage_key(run_id, stage, "leases")
        return [int(_s(r)) for r in self.redis.zrangebyscore(key, "-inf", repr(self._now(now)))]

    def stage_names(self, run_id: str) -> list[str]:
        """Stage names of the stored spec, in order."""
        record = self.get_run(run_id)
        if record is None:
            return []
        return [str(s["name"]) for s in record.spec.get("stages", [])]

    def status(self, run_id: str, *, now: float | None = None) -> dict[str, Any]:
        """``{"complete": bool, "stages": [{"name", "tasks", "done", "failed", "running"}]}``.

        ``tasks`` is the planned count, or the spec's until the stage is planned."""
        record = self.get_run(run_id)
        if record is None:
            return {"complete": False, "stages": []}
        stages: list[dict[str, Any]] = []
        complete = True
        for spec_stage in record.spec.get("stages", []):
            name = str(spec_stage["name"])
            header = self.stage_plan_header(run_id, name)
            tasks = header[0] if header is not None else int(spec_stage.get("tasks", 1))
            done = int(self.redis.scard(self._stage_key(run_id, name, "done")))
            running = len(self.live_leases(run_id, name, now=now))
            failed = len(self.failed_ranks(run_id, name, now=now))
            complete = complete and header is not None and done == tasks
            stages.append(
                {"name": name, "tasks": tasks, "done": done, "failed": failed, "running": running}
            )
        return {"complete": complete and bool(stages), "stages": stages}

    # -- requeue --------------------------------------------------------------------
    def reset_ranks(
        self, run_id: str, stage: str, ranks: Iterable[int], *, pipeline: Any = None
    ) -> None:
        """Forget attempts and failures of ``ranks`` so they can be claimed again (requeue)."""
        ranks = list(ranks)
        if not ranks:
            return
        client = pipeline or self.redis.pipeline(transaction=True)
        client.hdel(self._stage_key(run_id, stage, "attempts"), *ranks)
        client.hdel(self._stage_key(run_id, stage, "failed"), *ranks)
        if pipeline is None:
            client.execute()

    # -- rejected messages ----------------------------------------------------------
    def record_rejected(self, message: str, error: str, worker: str) -> None:
        """Keep a message no worker could decode (bad JSON, unknown schema) with the reason,
        in a capped global list: it names no run that could hold it."""
        entry = json.dumps(
            {"time": self.clock(), "worker": worker, "error": error, "message": message[:2000]},
            separators=(",", ":"),
        )
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(REJECTED_KEY, entry)
        pipe.ltrim(REJECTED_KEY, 0, LOG_CAP - 1)
        pipe.execute()

    def rejected(self) -> list[dict[str, Any]]:
        """Rejected messages, newest first."""
        return [json.loads(_s(e)) for e in self.redis.lrange(REJECTED_KEY, 0, -1)]

    # -- logs -----------------------------------------------------------------------
    def append_log(
        self,
        run_id: str,
        stage: str,
        rank: int,
        lines: Sequence[str],
        *,
        cap: int = LOG_CAP,
        pipeline: Any = None,
    ) -> None:
        """Append log lines of a shard, keeping its last ``cap`` lines (no file per task)."""
        if not lines:
            return
        key = self._stage_key(run_id, stage, f"log:{rank}")
        client = pipeline or self.redis.pipeline(transaction=False)
        client.rpush(key, *lines)
        client.ltrim(key, -cap, -1)
        if pipeline is None:
            client.execute()

    def logs(self, run_id: str, stage: str, rank: int) -> list[str]:
        key = self._stage_key(run_id, stage, f"log:{rank}")
        return [_s(line) for line in self.redis.lrange(key, 0, -1)]
