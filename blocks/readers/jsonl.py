"""JSON Lines reader (DataTrove's ``JsonlReader``); plain files can be split by byte range."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import orjson

from blocks.document import Document
from blocks.io import compression_of
from blocks.readers.base import BaseDiskReader


class JsonlReader(BaseDiskReader):
    """Read one JSON object per line. Bad lines count as ``error_bad_json`` / ``error_decode``."""

    name = "JsonlReader"
    splittable = True

    def __init__(self, data_folder: Any, compression: str | None = "infer", **kwargs: Any) -> None:
        super().__init__(data_folder, **kwargs)
        self.compression = compression

    def can_split(self, filepath: str) -> bool:
        return self.compression in ("infer", None) and compression_of(filepath) is None

    def _lines(self, fh: IO[bytes], path: str) -> Iterator[Document]:
        index = 0
        for raw in fh:
            index += 1
            if not raw.strip():
                continue
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.stat_update("error_decode")
                else:
                    self.stat_update("error_bad_json")
                continue
            if not isinstance(data, dict):
                self.stat_update("error_bad_json")
                continue
            doc = self.get_document_from_dict(data, path, index - 1)
            if doc is not None:
                yield doc

    def read_file(self, filepath: str) -> Iterator[Document]:
        compression = compression_of(filepath) if self.compression == "infer" else self.compression
        with self.data_folder.open(filepath, "rb", compression=compression) as fh:
            yield from self._lines(fh, filepath)

    def read_range(self, filepath: str, start: int, end: int) -> Iterator[Document]:
        # A line belongs to the range its first byte falls in. Ids use the byte offset so
        # they stay stable whatever the split.
        with self.data_folder.open(filepath, "rb", compression=None) as fh:
            if start > 0:
                fh.seek(start - 1)
                if fh.read(1) != b"\n":
                    fh.readline()
            index = fh.tell()
            yield from self._offset_lines(fh, filepath, end, index)

    def _offset_lines(self, fh: IO[bytes], path: str, end: int, pos: int) -> Iterator[Document]:
        while pos < end:
            raw = fh.readline()
            if not raw:
                break
            line_start, pos = pos, pos + len(raw)
            if not raw.strip():
                continue
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self.stat_update("error_bad_json")
                continue
            if not isinstance(data, dict):
                self.stat_update("error_bad_json")
                continue
            doc = self.get_document_from_dict(data, path, f"b{line_start}")
            if doc is not None:
                yield doc
