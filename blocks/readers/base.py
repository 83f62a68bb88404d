"""Reader bases. Subclass :class:`BaseDiskReader` and implement ``read_file(path)``.

The base lists the folder once (sorted), takes this shard's files (the planner's
assignment from ``ctx.files`` if any, else DataTrove's ``rank::world_size``), applies
``skip``/``limit``/``shuffle_files``/``paths_file``, turns raw dicts into Documents through
``adapter``, and counts corrupt input instead of failing: a bad record is skipped under
``error_<kind>``, a truncated or corrupt compressed file ends that file under
``error_truncated_file`` and the shard goes on.
"""

from __future__ import annotations

import gzip
import lzma
import random
import zlib
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from blocks.base import FileRange, PipelineStep
from blocks.document import Document
from blocks.errors import DocumentError
from blocks.io import DataFolder, get_datafolder

Adapter = Callable[..., dict[str, Any]]

_CORRUPT_FILE_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
)


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


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
        metadata = data.pop("metadata", None)
        if not isinstance(metadata, dict):
            metadata = {} if metadata is None else {"metadata": metadata}
        return {
            "text": data.pop(self.text_key, None),
            "id": data.pop(self.id_key, f"{path}/{id_in_file}"),
            "metadata": {**metadata, **data},
        }

    def get_document_from_dict(
        self, data: dict[str, Any], source_file: str, id_in_file: int | str
    ) -> Document | None:
        """Build a Document, or count the record as bad and return None."""
        adapted = (
            self.adapter(self, data, source_file, id_in_file)
            if self.adapter is not None
            else self._default_adapter(data, source_file, id_in_file)
        )
        text = adapted.get("text")
        if text is None or text == "":
            self.stat_update("error_missing_text")
            return None
        if not isinstance(text, str):
            self.stat_update("error_bad_text_type")
            return None
        metadata = adapted.get("metadata") or {}
        if self.default_metadata:
            metadata = {**self.default_metadata, **metadata}
        metadata.setdefault("file_path", source_file)
        return Document(text=text, id=str(adapted.get("id")), metadata=metadata)


class BaseDiskReader(BaseReader):
    """A reader of files in a :class:`DataFolder`."""

    #: readers that can read a byte range of a file set this and implement ``read_range``
    splittable: bool = False

    def __init__(
        self,
        data_folder: Any,
        paths_file: str | None = None,
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
    ) -> None:
        super().__init__(limit, skip, adapter, text_key, id_key, default_metadata)
        self.data_folder: DataFolder = get_datafolder(data_folder)
        self.paths_file = paths_file
        self.file_progress = file_progress
        self.doc_progress = doc_progress
        self.recursive = recursive
        self.glob_pattern = glob_pattern
        self.shuffle_files = shuffle_files

    # -- hooks ----------------------------------------------------------------------
    @abstractmethod
    def read_file(self, filepath: str) -> Iterator[Document]:
        """Yield the Documents of one file (path relative to ``data_folder``)."""

    def read_range(self, filepath: str, start: int, end: int) -> Iterator[Document]:
        """Yield the Documents whose records start in ``[start, end)`` bytes of the file."""
        raise NotImplementedError(f"{type(self).__name__} cannot read byte ranges")

    def can_split(self, filepath: str) -> bool:
        """Whether ``read_range`` works for this file (e.g. only uncompressed JSONL)."""
        return False

    # -- listing --------------------------------------------------------------------
    def list_files(self) -> list[tuple[str, int]]:
        """All input files of the reader with their sizes, sorted. The planner calls this once."""
        if self.paths_file:
            with get_datafolder(self.paths_file_folder()).open(self.paths_file_name(), "rt") as fh:
                paths = [line.strip() for line in fh if line.strip()]
            return [(p, -1) for p in paths]
        return self.data_folder.list_files_with_sizes(
            recursive=self.recursive, glob_pattern=self.glob_pattern
        )

    def paths_file_folder(self) -> str:
        assert self.paths_file is not None
        head = self.paths_file.rsplit("/", 1)
        return head[0] if len(head) == 2 else "."

    def paths_file_name(self) -> str:
        assert self.paths_file is not None
        return self.paths_file.rsplit("/", 1)[-1]

    def shard_files(self, rank: int, world_size: int) -> list[FileRange]:
        if self.ctx.files is not None:
            files = list(self.ctx.files)
        else:
            files = [FileRange(p) for p, _ in self.list_files()[rank::world_size]]
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
        corrupt = _CORRUPT_FILE_ERRORS + _zstd_errors()
        files = self.shard_files(rank, world_size)
        progress = None
        if self.file_progress:
            from rich.progress import track

            progress = track(files, description=f"{self.name} files")
        skipped = produced = 0
        for item in progress or files:
            self.stat_update("files")
            it = self._read_one(item)
            while True:
                try:
                    with self.track_time():
                        doc = next(it)
                except StopIteration:
                    break
                except corrupt:
                    self.stat_update("error_truncated_file")
                    break
                except (DocumentError, UnicodeDecodeError) as err:
                    # a reader that cannot go on within this file: count it, next file
                    kind = err.kind if isinstance(err, DocumentError) else "decode"
                    self.stat_update(f"error_{kind}")
                    break
                if skipped < self.skip:
                    skipped += 1
                    continue
                self.stat_update("documents")
                self.update_doc_stats(doc)
                yield doc
                produced += 1
                if 0 <= self.limit <= produced:
                    return
