"""CSV reader (DataTrove's ``CsvReader``): one Document per row, header row names the fields."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import IO, Any, Literal

from blocks.document import Document
from blocks.io import compression_of
from blocks.readers.base import BaseDiskReader

Compression = Literal["infer", "gzip", "zstd", "bz2", "xz"] | None

# Web documents are often longer than csv's default 128 KiB field limit.
_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


class CsvReader(BaseDiskReader):
    """Read CSV files with the standard library's ``csv.DictReader``.

    The ``text_key`` column is the text, ``id_key`` the id (``<path>/<row index>`` when
    absent), every other column goes to metadata. Each physical line is decoded on its
    own, so a line that is not UTF-8 is skipped under ``error_decode`` and the file goes
    on; a row the csv module rejects counts as ``error_bad_csv``.
    """

    name = "CsvReader"

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

    def _decoded_lines(self, fh: IO[bytes]) -> Iterator[str]:
        for index, raw in enumerate(fh):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.stat_update("error_decode")
                continue
            if index == 0 and line.startswith("\ufeff"):
                line = line[1:]  # a UTF-8 byte order mark is not part of the first header
            yield line

    def read_file(self, filepath: str) -> Iterator[Document]:
        if csv.field_size_limit() < _FIELD_LIMIT:
            csv.field_size_limit(_FIELD_LIMIT)
        compression = compression_of(filepath) if self.compression == "infer" else self.compression
        with self.data_folder.open(filepath, "rb", compression=compression) as fh:
            rows = csv.DictReader(self._decoded_lines(fh))
            index = 0
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    break
                except csv.Error:
                    self.stat_update("error_bad_csv")
                    index += 1
                    continue
                # DictReader puts surplus cells under the key None; keep them, JSON-safe
                record: dict[str, Any] = {
                    k if k is not None else "_extra": v for k, v in row.items()
                }
                doc = self.get_document_from_dict(record, filepath, index)
                index += 1
                if doc is not None:
                    yield doc


CSVReader = CsvReader
