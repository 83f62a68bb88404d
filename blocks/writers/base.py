"""Writer base: temporary names, rename on commit, safe templates, rolling files.

Subclass :class:`DiskWriter` and implement ``open_file(temp_relpath)``, ``write(record,
handle)`` and optionally ``close_file(handle)`` / ``abort_file(handle)``. Everything is
written under a hidden temporary name beside the final one (``.00000.jsonl.gz.tmp-1a2b3c4d``).
``commit()`` renames them into place and runs only after the whole shard succeeded;
``abort()`` deletes them. So a killed or failed shard never leaves a partial file under a
final name, and a re-run writes the same final names again.

``output_filename`` is a template: ``${rank}`` (5 digits, zero padded, as in DataTrove),
``${id}`` and ``${<metadata key>}``. Each value becomes a single path component ("/" and
"\\" are replaced, "." and ".." too), so nothing can leave the output folder; a value that
still cannot make a safe name (a NUL byte, a component longer than 255 bytes) costs that
document only (``error_unsafe_output_name``). A document without a metadata key that the
template needs fails the shard, as in DataTrove: silently dropping it would hide a typo.

``max_file_size`` (bytes, uncompressed for JSONL, on disk for Parquet) rolls files:
``000_00000.jsonl.gz``, ``001_00000.jsonl.gz``, ... (DataTrove's prefixes).
"""

from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from blocks.base import PipelineStep, TaskContext
from blocks.document import Document
from blocks.errors import DocumentError, SpecError, UnsafePathError
from blocks.io import (
    DataFolder,
    compression_of,
    get_datafolder,
    render_template,
    temp_name,
    template_fields,
)

WriterAdapter = Callable[..., dict[str, Any]]

_MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux and on S3-compatible stores' key parts


@dataclass
class _Output:
    final: str
    temp: str
    handle: Any
    size: int = 0


class DiskWriter(PipelineStep):
    """Base of the file writers. Stats: ``documents`` written, ``error_<kind>`` skipped."""

    type = "writer"
    default_output_filename: ClassVar[str] = "${rank}.jsonl"
    #: accepted ``compression`` values and the suffix each adds to the file name
    compressions: ClassVar[dict[str | None, str]] = {
        "gzip": ".gz",
        "zstd": ".zst",
        "bz2": ".bz2",
        "xz": ".xz",
        None: "",
    }
    #: whether ``compression="infer"`` (from the file name's extension) makes sense
    infers_compression: ClassVar[bool] = True

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
        filename = output_filename or self.default_output_filename
        if compression == "infer" and self.infers_compression:
            compression = compression_of(filename)
        if compression not in self.compressions:
            allowed = sorted(str(c) for c in self.compressions)
            raise ValueError(f"compression must be one of {allowed}, got {compression!r}")
        suffix = self.compressions[compression]
        if suffix and not filename.endswith(suffix):
            filename += suffix  # DataTrove's rule: gzip content always ends in .gz
        self._check_template(filename)
        self.output_folder: DataFolder = get_datafolder(output_folder)
        self.output_filename = filename
        self.compression = compression
        self.adapter = adapter
        self.expand_metadata = expand_metadata
        self.max_file_size = max_file_size
        self._fields = template_fields(filename)
        self._outputs: dict[str, _Output] = {}
        self._part: dict[str, int] = {}
        self._pending: list[tuple[str, str]] = []  # closed (temp, final) awaiting commit

    @staticmethod
    def _check_template(template: str) -> None:
        """Refuse a template that is unsafe whatever the values (absolute, ``../``)."""
        probe = {key: "x" for key in template_fields(template)}
        try:
            render_template(template, probe)
        except UnsafePathError as err:
            raise ValueError(f"output_filename {template!r} is not a safe relative path") from err

    # -- hooks ----------------------------------------------------------------------
    @abstractmethod
    def open_file(self, temp_relpath: str) -> Any:
        """Open the temporary file and return a handle for ``write``."""

    @abstractmethod
    def write(self, record: dict[str, Any], handle: Any) -> int:
        """Write one record; return the bytes it added to the file (for ``max_file_size``).

        Raise :class:`DocumentError` for a record that cannot be written; it is counted
        and skipped.
        """

    def close_file(self, handle: Any) -> None:
        """Flush and close a finished file."""
        handle.close()

    def abort_file(self, handle: Any) -> None:
        """Release a file that will be deleted (no need to flush). Must not raise."""
        try:
            handle.close()
        except Exception:
            pass

    # -- records --------------------------------------------------------------------
    def to_record(self, document: Document) -> dict[str, Any]:
        """The dict written for a document (``adapter(self, document)`` if one is given)."""
        if self.adapter is not None:
            return self.adapter(self, document)
        record: dict[str, Any] = {"text": document.text, "id": document.id}
        if self.expand_metadata:
            for key, value in document.metadata.items():
                record.setdefault(key, value)  # text and id keep their meaning
        else:
            record["metadata"] = document.metadata
        return record

    def output_name(self, document: Document, rank: int) -> str:
        """The final relative path of a document's file (before rolling prefixes)."""
        values: dict[str, Any] = {**document.metadata, "rank": f"{rank:05d}", "id": document.id}
        for key in self._fields:
            if key not in values:
                raise SpecError(
                    f"document {document.id!r} has no metadata {key!r}, which output_filename "
                    f"{self.output_filename!r} needs"
                )
        name = render_template(self.output_filename, values)
        if any(len(part.encode("utf-8")) > _MAX_COMPONENT_BYTES for part in name.split("/")):
            raise UnsafePathError(f"output name {name[:80]!r}... has a component over 255 bytes")
        return name

    def _rolled(self, name: str) -> str:
        if self.max_file_size <= 0:
            return name
        head, tail = posixpath.split(name)
        return posixpath.join(head, f"{self._part.get(name, 0):03d}_{tail}")

    def write_document(self, document: Document, rank: int = 0) -> None:
        """Write one document (the filters' exclusion sink calls this directly)."""
        with self.track_time():
            try:
                name = self.output_name(document, rank)
            except UnsafePathError:
                self.stat_update("error_unsafe_output_name")
                return
            try:
                record = self.to_record(document)
                out = self._outputs.get(name) or self._open(name)
                written = self.write(record, out.handle)
            except DocumentError as err:
                kind = err.kind if err.kind.startswith("error_") else f"error_{err.kind}"
                self.stat_update(kind)
                return
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
        # listed first: if closing fails, abort() still finds and removes the temp file
        self._pending.append((out.temp, out.final))
        self.close_file(out.handle)

    # -- lifecycle ------------------------------------------------------------------
    def bind(self, ctx: TaskContext) -> None:
        super().bind(ctx)
        self._part.clear()  # a new shard numbers its rolled files from 000 again
        if ctx.world_size > 1 and not {"rank", "id"} & set(self._fields):
            raise SpecError(
                f"{self.name}: output_filename {self.output_filename!r} has neither ${{rank}} "
                f"nor ${{id}}, so the {ctx.world_size} tasks would overwrite each other's files"
            )

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        """Write every document and pass it on.

        Under a runner (``managed``) the runner commits after the whole shard succeeded.
        Used standalone, the end of the stream commits, and an error, or a consumer that
        stops early, aborts: no partial output appears under a final name.
        """
        if self.managed:
            for document in data or ():
                self.write_document(document, rank)
                yield document
            return
        try:
            for document in data or ():
                self.write_document(document, rank)
                yield document
        except BaseException:
            self.abort()
            raise
        self.commit()

    def close(self) -> None:
        """Finish every open file; they stay under their temporary names until commit."""
        for name in list(self._outputs):
            self._close(name)

    def commit(self) -> None:
        """Rename every finished file to its final name."""
        self.close()
        while self._pending:
            temp, final = self._pending[0]
            self.output_folder.move(temp, final)
            self._pending.pop(0)  # only once moved: abort() removes what is left
            # temporaries of this name from earlier attempts that were killed mid-shard
            stale = self.output_folder.remove_stale_temps(final)
            if stale:
                self.stat_update("stale_temps_removed", value=stale)
        self._part.clear()

    def abort(self) -> None:
        """Delete every temporary file of this shard (open or finished). Never raises."""
        for name in list(self._outputs):
            out = self._outputs.pop(name)
            self.abort_file(out.handle)
            self._pending.append((out.temp, out.final))
        pending, self._pending = self._pending, []
        for temp, _final in pending:
            try:
                self.output_folder.rm(temp)
            except Exception:
                pass
        self._part.clear()

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
