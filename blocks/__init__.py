"""shardyard's block library: Documents, block bases, specs, stats and I/O.

Kept light: importing ``blocks`` pulls no Redis, Celery or heavy processing library.
"""

from blocks.base import (
    BaseExtractor,
    BaseFilter,
    BaseFormatter,
    FileRange,
    PipelineStep,
    TaskContext,
)
from blocks.document import Document
from blocks.errors import DocumentError, MissingDependencyError, ShardyardError, SpecError
from blocks.registry import register_function

__all__ = [
    "BaseExtractor",
    "BaseFilter",
    "BaseFormatter",
    "Document",
    "DocumentError",
    "FileRange",
    "MissingDependencyError",
    "PipelineStep",
    "ShardyardError",
    "SpecError",
    "TaskContext",
    "register_function",
]
