"""Writer base: temporary names, rename on commit, safe templates, rolling files.

Subclass :class:`DiskWriter` and implement ``open_file(temp_relpath)``, ``write(record,
handle)`` and ``close_file(handle)``. Everything is written under a hidden temporary
name beside the final one (``.0.jsonl.gz.tmp-1a2b3c4d``). ``commit()`` renames them into
place and runs only after the whole shard succeeded; ``abort()`` deletes them. So a
killed or failed shard never leaves a partial file under a final name, and a re-run
writes the same final names again.

``output_filename`` is a template: ``${rank}``, ``${id}`` and ``${<metadata key>}``.
Values become single path components; nothing can leave the output folder.
"""

from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from blocks.base import PipelineStep, TaskContext
from blocks.document import Document
from blocks.io import DataFolder, get_datafolder, render_template, temp_name

WriterAdapter = Callable[..., dict[str, Any]]


@dataclass
class _Output:
    final: str
    temp: str
    handle: Any
    size: int = 0


class DiskWriter(PipelineStep):
    type = "writer"
    default_output_filename = "${rank}.jsonl"
    #: the codec suffix added to the default filename for each compression
    suffixes = {"gzip": ".gz", "zstd": ".zst", "bz2": ".bz2", None: ""}

    def __init__(
        self,
        output_folder: Any,
        output_filename: str | None = None,
        compression: str | None = "gzip",
        adapter: WriterAdapter | None = None,
        expand_metadata: bool = False,
        max_file_size: int = -1,
    ) -> None:
        super().__init__()
        if compression not in self.suffixes:
            raise ValueError(
                f"compression must be one of {sorted(map(str, self.suffixes))}, got {compression!r}"
            )
        self.output_folder: DataFolder = get_datafolder(output_folder)
        if output_filename is None:
            output_filename = self.default_output_filename + self.suffixes[compression]
        self.output_filename = output_filename
        self.compression = compression
        self.adapter = adapter
        self.expand_metadata = expand_metadata
        self.max_file_size = max_file_size
        self._outputs: dict[str, _Output] = {}
        self._part: dict[str, int] = {}
        self._pending: list[tuple[str, str]] = []  # closed (temp, final) awaiting commit
        self._deferred = False

    # -- hooks ----------------------------------------------------------------------
    @abstractmethod
    def open_file(self, temp_relpath: str) -> Any:
        """Open the temporary file and return a handle for ``write``."""

    @abstractmethod
    def write(self, record: dict[str, Any], handle: Any) -> int:
        """Write one record; return the number of (uncompressed) bytes it took."""

    def close_file(self, handle: Any) -> None:
        handle.close()

    # -- records --------------------------------------------------------------------
    def to_record(self, document: Document) -> dict[str, Any]:
        if self.adapter is not None:
            return self.adapter(self, document)
        record: dict[str, Any] = {"text": document.text, "id": document.id}
        if self.expand_metadata:
            for key, value in document.metadata.items():
                record.setdefault(key, value)
        else:
            record["metadata"] = document.metadata
        return record

    def output_name(self, document: Document, rank: int) -> str:
        values: dict[str, Any] = {**document.metadata, "rank": f"{rank:05d}", "id": document.id}
        return render_template(self.output_filename, values)

    def _rolled(self, name: str) -> str:
        if self.max_file_size <= 0:
            return name
        head, tail = posixpath.split(name)
        return posixpath.join(head, f"{self._part.get(name, 0):03d}_{tail}")

    def write_document(self, document: Document, rank: int = 0) -> None:
        """Write one document (the filters' exclusion sink uses this directly)."""
        name = self.output_name(document, rank)
        record = self.to_record(document)
        out = self._outputs.get(name)
        if out is None:
            out = self._open(name)
        with self.track_time():
            written = self.write(record, out.handle)
        out.size += written
        self.stat_update("documents")
        if 0 < self.max_file_size <= out.size:
            self._close(name)
            self._part[name] = self._part.get(name, 0) + 1

    def _open(self, name: str) -> _Output:
        final = self._rolled(name)
        temp = temp_name(final)
        out = _Output(final=final, temp=temp, handle=self.open_file(temp))
        self._outputs[name] = out
        return out

    def _close(self, name: str) -> None:
        out = self._outputs.pop(name)
        self.close_file(out.handle)
        self._pending.append((out.temp, out.final))

    # -- lifecycle ------------------------------------------------------------------
    def bind(self, ctx: TaskContext) -> None:
        super().bind(ctx)
        self._deferred = True  # the runner commits after the whole shard succeeded

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for document in data or ():
            self.write_document(document, rank)
            yield document
        if not self._deferred:
            # standalone use (DataTrove style): the end of the stream is the end of the shard
            self.close()
            self.commit()

    def close(self) -> None:
        for name in list(self._outputs):
            self._close(name)

    def commit(self) -> None:
        self.close()
        pending, self._pending = self._pending, []
        for temp, final in pending:
            self.output_folder.move(temp, final)

    def abort(self) -> None:
        for name in list(self._outputs):
            out = self._outputs.pop(name)
            try:
                self.close_file(out.handle)
            except Exception:
                pass
            self._pending.append((out.temp, out.final))
        pending, self._pending = self._pending, []
        for temp, _final in pending:
            self.output_folder.rm(temp)

    def __enter__(self) -> DiskWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    @property
    def pending_outputs(self) -> list[str]:
        """Final names this writer will create on commit (closed and still open files)."""
        return [f for _, f in self._pending] + [o.final for o in self._outputs.values()]
