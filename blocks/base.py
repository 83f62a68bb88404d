"""Block bases: subclass the smallest hook, the base owns the loop, stats, timing and errors.

A block's ``run(data, rank, world_size)`` takes an iterator of Documents and yields
Documents, as in DataTrove. The runner also passes a :class:`TaskContext` (``ctx=``) so a
block knows its run, stage, rank, shard and attempt without reading globals.

Every block records its constructor arguments (``spec_params``) so that a pipeline built
in Python can be turned into the same JSON/YAML spec a worker rebuilds it from.
"""

from __future__ import annotations

import importlib.util
import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from blocks.document import Document
from blocks.errors import DocumentError, MissingDependencyError
from blocks.metrics import BlockStats


@dataclass(frozen=True, slots=True)
class FileRange:
    """A file, or a byte range of one, assigned to a shard by the planner.

    ``start``/``end`` are byte offsets (``end`` exclusive); ``None`` means the whole file.
    Readers that can split a file (plain JSONL by lines, WARC.gz by gzip member) honour them.
    """

    path: str
    start: int | None = None
    end: int | None = None

    def to_json(self) -> list[Any]:
        return [self.path, self.start, self.end]

    @classmethod
    def from_json(cls, raw: Any) -> FileRange:
        if isinstance(raw, str):
            return cls(raw)
        path, start, end = raw
        return cls(path, start, end)


@dataclass(frozen=True, slots=True)
class TaskContext:
    """Where a block is running: which run, stage, shard and attempt."""

    run_id: str = "local"
    stage: str = "main"
    rank: int = 0
    world_size: int = 1
    attempt: int = 1
    # Files (or byte ranges) this shard must read, decided by the planner. None: the reader
    # takes files rank, rank+N, ... of its sorted listing (DataTrove's contract).
    files: tuple[FileRange, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_REGISTRY_HOOK: list[Callable[[type], None]] = []


class PipelineStep(ABC):
    """Base of every block.

    Class attributes a subclass sets:
      ``name``  human name shown in stats (defaults to the class name)
      ``type``  one of reader, extractor, filter, formatter, stats, tokenizer, dedup, writer
      ``_requires_dependencies``  modules it imports lazily: ``"fasttext"`` or
      ``("fasttext", "processing")`` naming the shardyard extra that provides it
    """

    name: ClassVar[str] = ""
    type: ClassVar[str] = "step"
    _requires_dependencies: ClassVar[tuple[str | tuple[str, str], ...]] = ()

    spec_params: dict[str, Any]
    ctx: TaskContext
    #: True once a runner has bound the block to a task: the runner then calls close,
    #: commit and abort. A block used standalone (DataTrove style) finishes on its own.
    managed: bool = False

    def __new__(cls, *args: Any, **kwargs: Any) -> PipelineStep:
        obj = super().__new__(cls)
        # Record constructor arguments by name so the block can be serialized to a spec.
        try:
            bound = inspect.signature(cls.__init__).bind(obj, *args, **kwargs)
            params = dict(bound.arguments)
            params.pop("self", None)
            for pname, param in inspect.signature(cls.__init__).parameters.items():
                if param.kind is inspect.Parameter.VAR_KEYWORD and pname in params:
                    params.update(params.pop(pname))
        except TypeError:
            params = dict(kwargs)
        obj.spec_params = params
        return obj

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:
            cls.name = cls.__name__
        for hook in _REGISTRY_HOOK:
            hook(cls)

    def __init__(self) -> None:
        self.stats = BlockStats(self.name, self.type)
        self.ctx = TaskContext()

    # -- dependencies ---------------------------------------------------------------
    @classmethod
    def check_dependencies(cls) -> None:
        """Fail at build time, not mid-shard, when an optional package is missing."""
        for dep in cls._requires_dependencies:
            module, extra = dep if isinstance(dep, tuple) else (dep, "all")
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise MissingDependencyError(
                    f"{cls.__name__} needs the Python module {module!r}: "
                    f"pip install 'shardyard[{extra}]'"
                )

    # -- stats ----------------------------------------------------------------------
    def stat_update(self, *labels: str, value: float | int = 1, unit: str | None = None) -> None:
        stats = self.stats.stats
        for label in labels:
            stats[label].update(value, unit)

    def update_doc_stats(self, document: Document) -> None:
        self.stats.stats["doc_len"].update(len(document.text), "doc")

    @contextmanager
    def track_time(self, unit: str | None = None) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stats.time.update(time.perf_counter() - start, unit or "s")

    # -- lifecycle ------------------------------------------------------------------
    def bind(self, ctx: TaskContext) -> None:
        """Called by the runner before ``run`` with the task's context."""
        self.ctx = ctx
        self.managed = True

    @abstractmethod
    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        """Consume ``data`` and yield documents."""

    def __call__(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        return self.run(data, rank, world_size)

    def close(self) -> None:
        """Flush buffers once the pipeline is drained. Outputs stay under temporary names."""

    def commit(self) -> None:
        """Move outputs to their final names. Called only when the whole shard succeeded."""

    def abort(self) -> None:
        """Remove temporary outputs. Called when the shard failed or lost its lease."""

    def children(self) -> list[PipelineStep]:
        """Blocks owned by this one (an exclusion writer) that need close/commit/abort."""
        return []

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.spec_params.items())
        return f"{type(self).__name__}({args})"


def _error_label(err: DocumentError) -> str:
    return err.kind if err.kind.startswith(("error_", "dropped_")) else f"error_{err.kind}"


class BaseFilter(PipelineStep):
    """Keep or drop documents. Override ``filter(doc) -> bool | (bool, reason)``.

    Dropped documents go to ``exclusion_writer`` (with ``metadata["filter_reason"]``)
    when one is given. Stats: ``total``, ``forwarded``, ``dropped``, ``dropped_<reason>``.
    """

    type = "filter"

    def __init__(self, exclusion_writer: PipelineStep | None = None) -> None:
        super().__init__()
        self.exclusion_writer = exclusion_writer

    @abstractmethod
    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        """True keeps the document; ``(False, "reason")`` drops it with a reason."""

    def children(self) -> list[PipelineStep]:
        return [self.exclusion_writer] if self.exclusion_writer is not None else []

    def bind(self, ctx: TaskContext) -> None:
        super().bind(ctx)
        if self.exclusion_writer is not None:
            self.exclusion_writer.bind(ctx)

    def _decide(self, doc: Document) -> tuple[bool, str | None]:
        try:
            with self.track_time():
                verdict = self.filter(doc)
        except DocumentError as err:
            self.stat_update(_error_label(err))
            return False, err.kind
        if isinstance(verdict, tuple):
            return bool(verdict[0]), verdict[1]
        return bool(verdict), None

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        writer = self.exclusion_writer
        # Used standalone, the filter finishes its exclusion writer itself (commit at the
        # end of the stream, abort on error); under a runner the runner does it.
        standalone = writer is not None and not writer.managed
        try:
            for doc in data or ():
                self.stat_update("total")
                keep, reason = self._decide(doc)
                if keep:
                    self.stat_update("forwarded")
                    self.update_doc_stats(doc)
                    yield doc
                    continue
                self.stat_update("dropped")
                if reason:
                    self.stat_update(f"dropped_{reason}")
                    doc.metadata["filter_reason"] = reason
                if writer is not None:
                    writer.write_document(doc, rank)  # type: ignore[attr-defined]
        except BaseException:
            if standalone and writer is not None:
                writer.abort()
            raise
        if standalone and writer is not None:
            writer.close()
            writer.commit()


class BaseExtractor(PipelineStep):
    """Turn raw HTML (``doc.text``) into plain text. Override ``extract(text) -> str``.

    An empty result drops the document (``dropped_empty``); a DocumentError counts under
    its kind and drops it. Stats: ``total``, ``forwarded``, ``dropped``.
    """

    type = "extractor"

    @abstractmethod
    def extract(self, text: str) -> str: ...

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for doc in data or ():
            self.stat_update("total")
            try:
                with self.track_time():
                    doc.text = self.extract(doc.text)
            except DocumentError as err:
                self.stat_update("dropped", _error_label(err))
                continue
            if not doc.text:
                self.stat_update("dropped", "dropped_empty")
                continue
            doc.cache.clear()
            self.stat_update("forwarded")
            self.update_doc_stats(doc)
            yield doc


class BaseFormatter(PipelineStep):
    """Rewrite ``doc.text``. Override ``format(text) -> str``."""

    type = "formatter"

    @abstractmethod
    def format(self, text: str) -> str: ...

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for doc in data or ():
            self.stat_update("total")
            with self.track_time():
                new = self.format(doc.text)
            if new != doc.text:
                doc.text = new
                doc.cache.clear()
                self.stat_update("changed")
            self.stat_update("forwarded")
            yield doc


# DESIGN.md names; DataTrove names above.
Filter = BaseFilter
Extractor = BaseExtractor
Formatter = BaseFormatter


class FunctionStep(PipelineStep):
    """Wraps a plain function ``f(data, rank=0, world_size=1)`` used as a pipeline step."""

    type = "function"

    def __init__(
        self, function: Callable[..., Iterable[Document] | None], name: str | None = None
    ) -> None:
        super().__init__()
        self.function = function
        self.stats.name = name or str(getattr(function, "__name__", "function"))

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        result = self.function(data, rank, world_size)
        if result is not None:
            yield from result


class DocumentsSource(PipelineStep):
    """A list of Documents given as the first element of a pipeline."""

    type = "reader"
    name = "Documents"

    def __init__(self, documents: list[Document]) -> None:
        super().__init__()
        self.documents = documents

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        if data:
            yield from data
        for i, doc in enumerate(self.documents):
            if i % world_size == rank:
                self.stat_update("documents")
                yield doc
