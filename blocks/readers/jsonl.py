"""JSON Lines reader (DataTrove's ``JsonlReader``); plain files can be split by byte range."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, Literal

import orjson

from blocks.document import Document
from blocks.io import compression_of
from blocks.readers.base import BaseDiskReader

Compression = Literal["infer", "gzip", "zstd", "bz2", "xz"] | None


class JsonlReader(BaseDiskReader):
    """Read one JSON object per line; compression (gz, zst, bz2, xz) from the extension.

    Bad lines are skipped and counted: ``error_bad_json`` (not JSON, or not an object),
    ``error_decode`` (not UTF-8). A line read from a whole file gets the id
    ``<path>/<line index>`` when it has none, as in DataTrove; a line read through
    ``read_range`` gets ``<path>/b<byte offset>``, which stays the same whatever the split.
    """

    name = "JsonlReader"
    splittable = True

    def __init__(
        self,
        data_folder: Any,
        compression: Compression = "infer",
        **kwargs: Any,
    ) -> None:
        # the other options (paths_file, limit, skip, text_key, id_key, glob_pattern...)
        # are BaseDiskReader's; the spec validator checks them against its signature
        super().__init__(data_folder, **kwargs)
        self.compression = compression

    def _compression(self, filepath: str) -> str | None:
        return compression_of(filepath) if self.compression == "infer" else self.compression

    def can_split(self, filepath: str) -> bool:
        """Only uncompressed files: a compressed stream cannot be entered mid-way."""
        return self._compression(filepath) is None

    def _parse(self, raw: bytes, path: str, id_in_file: int | str) -> Document | None:
        if not raw.strip():
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                self.stat_update("error_decode")
            else:
                self.stat_update("error_bad_json")
            return None
        if not isinstance(data, dict):
            self.stat_update("error_bad_json")
            return None
        return self.get_document_from_dict(data, path, id_in_file)

    def read_file(self, filepath: str) -> Iterator[Document]:
        with self.data_folder.open(filepath, "rb", compression=self._compression(filepath)) as fh:
            for index, raw in enumerate(fh):
                doc = self._parse(raw, filepath, index)
                if doc is not None:
                    yield doc

    def read_range(self, filepath: str, start: int, end: int) -> Iterator[Document]:
        """Lines whose first byte is in ``[start, end)``.

        Seek to ``start - 1``: if that byte is a newline a line starts at ``start``,
        otherwise the partial line belongs to the previous range and is skipped.
        """
        if not self.can_split(filepath):
            raise ValueError(f"{filepath}: a compressed JSONL file cannot be read by byte range")
        with self.data_folder.open(filepath, "rb", compression=None) as fh:
            if start > 0:
                fh.seek(start - 1)
                if fh.read(1) != b"\n":
                    fh.readline()
            yield from self._lines_until(fh, filepath, end)

    def _lines_until(self, fh: IO[bytes], path: str, end: int) -> Iterator[Document]:
        pos = fh.tell()
        while pos < end:
            raw = fh.readline()
            if not raw:
                break
            doc = self._parse(raw, path, f"b{pos}")
            pos += len(raw)
            if doc is not None:
                yield doc
