"""Parquet reader (DataTrove's ``ParquetReader``): streams record batches, splits by row group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from blocks.document import Document
from blocks.readers.base import BaseDiskReader


class ParquetReader(BaseDiskReader):
    """Read Parquet files in batches of ``batch_size`` rows, one Document per row.

    ``read_metadata=False`` reads only the ``text_key`` and ``id_key`` columns; otherwise
    every other column goes to metadata. A row without id gets ``<path>/<row index>`` (the
    row's index in the file, so whole-file and row-group reads agree; DataTrove numbers
    only the rows that had text). A file pyarrow cannot read ends under
    ``error_corrupt_file``.

    Splitting: a byte range ``[start, end)`` reads the row groups whose first page starts
    in it, so any split of a file reads each row group exactly once.
    """

    name = "ParquetReader"
    splittable = True
    _requires_dependencies = (("pyarrow", "io"),)

    def __init__(
        self,
        data_folder: Any,
        batch_size: int = 1000,
        read_metadata: bool = True,
        **kwargs: Any,
    ) -> None:
        # the other options (paths_file, limit, skip, text_key, id_key, glob_pattern...)
        # are BaseDiskReader's; the spec validator checks them against its signature
        super().__init__(data_folder, **kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.read_metadata = read_metadata

    def corrupt_file_errors(self) -> tuple[type[BaseException], ...]:
        import pyarrow as pa

        return (pa.ArrowException,)

    def can_split(self, filepath: str) -> bool:
        """Files with more than one row group (reads only the footer)."""
        import pyarrow.parquet as pq

        with self.data_folder.open(filepath, "rb", compression=None) as fh:
            return bool(pq.ParquetFile(fh).metadata.num_row_groups > 1)

    def read_file(self, filepath: str) -> Iterator[Document]:
        yield from self._read(filepath, None)

    def read_range(self, filepath: str, start: int, end: int) -> Iterator[Document]:
        yield from self._read(filepath, (start, end))

    def _read(self, filepath: str, byte_range: tuple[int, int] | None) -> Iterator[Document]:
        with self.data_folder.open(filepath, "rb", compression=None) as fh:
            yield from self._rows(fh, filepath, byte_range)

    def _rows(
        self, fh: IO[bytes], filepath: str, byte_range: tuple[int, int] | None
    ) -> Iterator[Document]:
        import pyarrow.parquet as pq

        with pq.ParquetFile(fh) as pqf:
            meta = pqf.metadata
            columns = None
            if not self.read_metadata:
                names = set(pqf.schema_arrow.names)
                columns = [c for c in (self.text_key, self.id_key) if c in names]
            groups = list(range(meta.num_row_groups))
            first_rows = [0]
            for g in groups:
                first_rows.append(first_rows[-1] + meta.row_group(g).num_rows)
            if byte_range is not None:
                start, end = byte_range
                groups = [g for g in groups if start <= _row_group_offset(meta, g) < end]
            for g in groups:
                row = first_rows[g]
                for batch in pqf.iter_batches(
                    batch_size=self.batch_size, row_groups=[g], columns=columns
                ):
                    for record in batch.to_pylist():
                        doc = self.get_document_from_dict(record, filepath, row)
                        row += 1
                        if doc is not None:
                            yield doc


def _row_group_offset(meta: Any, group: int) -> int:
    """Byte offset of the first page (dictionary or data) of a row group."""
    rg = meta.row_group(group)
    offsets = []
    for i in range(rg.num_columns):
        col = rg.column(i)
        offset = col.data_page_offset
        if col.has_dictionary_page and col.dictionary_page_offset is not None:
            offset = min(offset, col.dictionary_page_offset)
        offsets.append(offset)
    return min(offsets) if offsets else 0
