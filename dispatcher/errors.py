"""Typed errors of the distributed run core (state store, task messages, worker runner).

All are :class:`blocks.errors.ShardyardError` children so the CLI can turn them into a
clear message and an exit code: operator mistakes (a bad URL, a changed spec under an
existing run id, a malformed message) exit 2, run-time failures exit 1.
"""

from __future__ import annotations

from blocks.errors import ShardyardError


class StateError(ShardyardError):
    """The run state in Redis is missing or inconsistent for the requested operation."""


class InvalidRunIdError(StateError):
    """A run id or stage name cannot be used inside Redis keys."""

    exit_code = 2


class RunNotFoundError(StateError):
    """No run is stored under this id."""

    exit_code = 2


class RunConflictError(StateError):
    """A run id is already stored with a different spec hash (re-submit with ``force``)."""

    exit_code = 2

    def __init__(self, run_id: str, stored_hash: str, new_hash: str) -> None:
        self.run_id = run_id
        self.stored_hash = stored_hash
        self.new_hash = new_hash
        super().__init__(
            f"run {run_id!r} already exists with spec {stored_hash[:12]}, not {new_hash[:12]}: "
            "use another run id, or force to replace the stored spec"
        )


class InsecureRedisError(ShardyardError):
    """A passwordless Redis URL pointing off this machine was refused (pass ``insecure``)."""

    exit_code = 2


class TaskDecodeError(ShardyardError):
    """A shard message is not valid JSON, has an unknown schema version, or wrong field types."""

    exit_code = 2


class ShardError(ShardyardError):
    """Base of the errors a worker raises while running one shard."""

    def __init__(self, message: str, *, run_id: str, stage: str, rank: int) -> None:
        self.run_id = run_id
        self.stage = stage
        self.rank = rank
        super().__init__(f"{run_id}/{stage}/{rank}: {message}")


class LeaseLostError(ShardError):
    """The shard's lease expired or was taken over: its outputs were discarded."""


class ShardPreemptedError(ShardError):
    """The worker was told to stop (SIGTERM/SIGUSR1): the shard was given back, not failed."""


class ShardFailedError(ShardError):
    """The shard raised; the failure is recorded. ``retryable`` is False once attempts are spent
    or when retrying cannot help (a spec that does not build on this worker)."""

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        stage: str,
        rank: int,
        attempt: int,
        retryable: bool,
    ) -> None:
        self.attempt = attempt
        self.retryable = retryable
        super().__init__(message, run_id=run_id, stage=stage, rank=rank)
