"""Reader bases. Subclass :class:`BaseDiskReader` and implement ``read_file(path)``.

The base lists the folder once (sorted), takes this shard's files (the planner's
assignment from ``ctx.files`` if any, else DataTrove's ``rank::world_size``), applies
``skip``/``limit``/``shuffle_files``/``paths_file``, turns raw dicts into Documents through
``adapter`` (DataTrove's contract: ``adapter(self, data, path, id_in_file) -> dict`` with
``text``, ``id`` and ``metadata``), and counts corrupt input instead of failing.

Corrupt input never fails the shard: see :mod:`blocks.readers.corrupt` for what is
counted under which stat.

Other stats, as DataTrove names them: ``input_files`` (one per file opened),
``documents`` (updated once per file with the number of documents it gave, so its
total is the document count and its mean the documents per file) and ``doc_len``.
"""

from __future__ import annotations

import random
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any

import fsspec
import orjson
from fsspec import AbstractFileSystem

from blocks.base import FileRange, PipelineStep
from blocks.document import Document
from blocks.io import DataFolder, compression_of, get_datafolder
from blocks.readers.corrupt import CorruptInput

Adapter = Callable[..., dict[str, Any]]

#: where a list of input paths lives: a path/URL, ``(path, storage options)`` or ``(path, fs)``
DataFileLike = str | tuple[str, Any] | list[Any]


class BaseReader(PipelineStep):
    """Turns raw records into Documents with DataTrove's adapter contract."""

    type = "reader"

    def __init__(
        self,
        limit: int = -1,
        skip: int = 0,
        adapter: Adapter | None = None,
        text_key: str = "text",
        id_key: str = "id",
        default_metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.skip = skip
        self.adapter = adapter
        self.text_key = text_key
        self.id_key = id_key
        self.default_metadata = default_metadata

    def _default_adapter(
        self, data: dict[str, Any], path: str, id_in_file: int | str
    ) -> dict[str, Any]:
        """``text_key`` -> text, ``id_key`` -> id, ``metadata`` (a dict or a JSON string)
        plus every other field -> metadata."""
        metadata = data.pop("metadata", None)
        if isinstance(metadata, str):
            try:
                metadata = orjson.loads(metadata)
            except orjson.JSONDecodeError:
                pass
        if not isinstance(metadata, dict):
            metadata = {} if metadata is None else {"metadata": metadata}
        return {
            "text": data.pop(self.text_key, None),
            "id": data.pop(self.id_key, None),
            "metadata": {**metadata, **data},
        }

    def get_document_from_dict(
        self, data: dict[str, Any], source_file: str, id_in_file: int | str
    ) -> Document | None:
        """Build a Document, or count the record as unusable and return None.

        A record without text counts as ``error_missing_text``, an empty text as
        ``skipped_empty_text`` and a non-string text as ``error_bad_text_type``. A record
        without id gets ``<path>/<id_in_file>`` as DataTrove does.
        """
        adapted = (
            self.adapter(self, data, source_file, id_in_file)
            if self.adapter is not None
            else self._default_adapter(data, source_file, id_in_file)
        )
        text = adapted.get("text")
        if text is None:
            self.stat_update("error_missing_text")
            return None
        if not isinstance(text, str):
            self.stat_update("error_bad_text_type")
            return None
        if not text:
            self.stat_update("skipped_empty_text")
            return None
        doc_id = adapted.get("id")
        if doc_id is None:
            doc_id = f"{source_file}/{id_in_file}"
        metadata = adapted.get("metadata") or {}
        if self.default_metadata:
            metadata = {**self.default_metadata, **metadata}
        return Document(text=text, id=str(doc_id), metadata=metadata)


class BaseDiskReader(BaseReader):
    """A reader of the files of a :class:`DataFolder` (local, ``s3://``, ...).

    ``paths_file`` (a path or URL, ``(path, storage options)`` or ``(path, fs)``) lists the
    files to read, one path relative to ``data_folder`` per line, instead of listing the
    folder. ``shuffle_files`` shuffles this shard's files with the rank as seed, so a
    retried shard reads them in the same order.
    """

    #: readers that can read a byte range of a file set this and implement ``read_range``
    splittable: bool = False

    def __init__(
        self,
        data_folder: Any,
        paths_file: DataFileLike | None = None,
        limit: int = -1,
        skip: int = 0,
        file_progress: bool = False,
        doc_progress: bool = False,
        adapter: Adapter | None = None,
        text_key: str = "text",
        id_key: str = "id",
        default_metadata: dict[str, Any] | None = None,
        recursive: bool = True,
        glob_pattern: str | None = None,
        shuffle_files: bool = False,
        add_file_path: bool = True,
    ) -> None:
        super().__init__(limit, skip, adapter, text_key, id_key, default_metadata)
        self.data_folder: DataFolder = get_datafolder(data_folder)
        self.paths_file = paths_file
        self.file_progress = file_progress
        self.doc_progress = doc_progress
        self.recursive = recursive
        self.glob_pattern = glob_pattern
        self.shuffle_files = shuffle_files
        self.add_file_path = add_file_path

    # -- hooks ----------------------------------------------------------------------
    @abstractmethod
    def read_file(self, filepath: str) -> Iterator[Document]:
        """Yield the Documents of one file (path relative to ``data_folder``)."""

    def read_range(self, filepath: str, start: int, end: int) -> Iterator[Document]:
        """Yield the Documents whose records start in ``[start, end)`` bytes of the file.

        Readers with ``splittable = True`` implement it so that the ranges of any split
        of a file into consecutive ranges together give every record exactly once.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot read byte ranges")

    def can_split(self, filepath: str) -> bool:
        """Whether ``read_range`` works for this file (e.g. only uncompressed JSONL)."""
        return False

    def corrupt_file_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions of the reader's format library that mean "this file is corrupt".

        Raised while reading a file, they end that file under ``error_corrupt_file``.
        Imported lazily by subclasses so the base stays free of heavy dependencies.
        """
        return ()

    def get_document_from_dict(
        self, data: dict[str, Any], source_file: str, id_in_file: int | str
    ) -> Document | None:
        doc = super().get_document_from_dict(data, source_file, id_in_file)
        if doc is not None and self.add_file_path:
            doc.metadata.setdefault("file_path", self.data_folder.full_url(source_file))
        return doc

    # -- listing --------------------------------------------------------------------
    def list_files(self) -> list[tuple[str, int]]:
        """All input files of the reader with their sizes, sorted. The planner calls this once.

        Files named by ``paths_file`` keep the file's order and have size ``-1`` (unknown:
        the point of a paths file is not to stat millions of objects).
        """
        if self.paths_file is not None:
            return [(p, -1) for p in self._read_paths_file()]
        return self.data_folder.list_files_with_sizes(
            recursive=self.recursive, glob_pattern=self.glob_pattern
        )

    def _read_paths_file(self) -> list[str]:
        source = self.paths_file
        if isinstance(source, str):
            opener = fsspec.open(source, "rt", compression="infer", encoding="utf-8")
        elif isinstance(source, (tuple, list)) and len(source) == 2:
            path, second = source
            if isinstance(second, AbstractFileSystem):
                opener = fsspec.core.OpenFile(
                    second, path, "rt", compression=compression_of(path), encoding="utf-8"
                )
            elif isinstance(second, dict):
                opener = fsspec.open(path, "rt", compression="infer", encoding="utf-8", **second)
            else:
                raise TypeError(f"paths_file: cannot use {source!r}")
        else:
            raise TypeError(f"paths_file: cannot use {source!r}")
        with opener as fh:
            return [line.strip() for line in fh if line.strip()]

    def shard_files(self, rank: int, world_size: int) -> list[FileRange]:
        """This shard's files: the planner's assignment, else files ``rank::world_size``."""
        if self.ctx.files is not None:
            files = list(self.ctx.files)
        else:
            listing = self.list_files()
            if not listing:
                raise FileNotFoundError(f"{self.name}: no input files found in {self.data_folder}")
            files = [FileRange(p) for p, _ in listing[rank::world_size]]
        if self.shuffle_files:
            random.Random(rank).shuffle(files)
        return files

    # -- the loop -------------------------------------------------------------------
    def _read_one(self, item: FileRange) -> Iterator[Document]:
        if item.start is None or item.end is None:
            return self.read_file(item.path)
        return self.read_range(item.path, item.start, item.end)

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        if data:
            yield from data
        corrupt = CorruptInput(self.corrupt_file_errors())
        files = self.shard_files(rank, world_size)
        skipped = produced = 0
        with ExitStack() as stack:
            progress = self._progress(stack, len(files))
            for item in files:
                if 0 <= self.limit <= produced:
                    break
                self.stat_update("input_files")
                ndocs = 0
                it = self._read_one(item)
                try:
                    while not 0 <= self.limit <= produced:
                        try:
                            with self.track_time():
                                doc = next(it)
                        except StopIteration:
                            break
                        except corrupt.caught as err:
                            label = corrupt.stat(err)
                            if label is None:
                                raise  # storage trouble fails the shard, so it is retried
                            self.stat_update(label)
                            break
                        if skipped < self.skip:
                            skipped += 1
                            continue
                        self.update_doc_stats(doc)
                        ndocs += 1
                        produced += 1
                        if progress is not None:
                            progress("doc")
                        yield doc
                finally:
                    close = getattr(it, "close", None)
                    if close is not None:
                        close()
                self.stat_update("documents", value=ndocs, unit="input_file")
                if progress is not None:
                    progress("file")

    def _progress(self, stack: ExitStack, n_files: int) -> Callable[[str], None] | None:
        """A rich progress display for files and/or documents, when asked for."""
        if not (self.file_progress or self.doc_progress):
            return None
        from rich.progress import Progress

        bar = stack.enter_context(Progress())
        tasks = {}
        if self.file_progress:
            tasks["file"] = bar.add_task(f"{self.name} files", total=n_files)
        if self.doc_progress:
            total = self.limit if self.limit >= 0 else None
            tasks["doc"] = bar.add_task(f"{self.name} documents", total=total)

        def advance(kind: str) -> None:
            if kind in tasks:
                bar.advance(tasks[kind])

        return advance
