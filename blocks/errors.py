"""The exception tree. Every error shardyard raises on purpose is a ShardyardError.

The CLI maps ``exit_code`` to the process exit status, so a bad spec exits 2 and a
failed run exits 1 without a traceback.
"""

from __future__ import annotations


class ShardyardError(Exception):
    """Root of all shardyard errors."""

    exit_code = 1


class SpecError(ShardyardError):
    """A pipeline spec is malformed. ``path`` names the offending field (``stages[0].pipeline[1].rate``)."""

    exit_code = 2

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class MissingDependencyError(ShardyardError):
    """A block needs an optional package that is not installed."""

    exit_code = 2


class DocumentError(ShardyardError):
    """A single record is unusable. Blocks count it under ``kind`` and skip it; the shard goes on."""

    def __init__(self, kind: str, message: str = "") -> None:
        self.kind = kind
        super().__init__(message or kind)


class UnsafePathError(ShardyardError):
    """A path built from a template or metadata would leave its output folder."""

    exit_code = 2
