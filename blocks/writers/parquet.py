"""Parquet writer (DataTrove's ``ParquetWriter``): buffered record batches, one row group each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any, Literal

from blocks.writers.base import DiskWriter, WriterAdapter, _Output

ParquetCompression = Literal["snappy", "gzip", "zstd", "brotli", "lz4", "none"]


@dataclass
class _ParquetFile:
    """An open temporary file, its pyarrow writer (made at the first flush) and the buffer."""

    fh: IO[bytes]
    key: str = ""  # the output name before rolling prefixes: its parts share one schema
    writer: Any = None
    rows: list[dict[str, Any]] = field(default_factory=list)


class ParquetWriter(DiskWriter):
    """Write documents to ``${rank}.parquet``: columns ``text``, ``id`` and ``metadata``.

    Documents are buffered and written ``batch_size`` at a time, each batch one row group.
    ``metadata`` is a struct column, or with ``expand_metadata=True`` one column per key.
    ``compression`` is the Parquet codec inside the file: ``snappy`` (default), ``zstd``,
    ``gzip``, ``brotli``, ``lz4`` or ``none``/``None``; it adds no suffix to the name.

    The schema is ``schema`` — ``{column: "arrow type"}`` as pyarrow prints types, e.g.
    ``{text: string, id: string, metadata: "struct<url: string, score: double>"}`` (or a
    ``pyarrow.Schema`` from Python, which cannot go into a spec) — or it is inferred from
    the first batch written to each output name and kept for every part that name rolls
    into (``000_x``, ``001_x``...), so they load together; names made from ``${metadata}``
    templates each infer their own. Later batches are fitted to it: a missing field is
    null, a field the schema lacks is dropped and counted under ``schema_dropped_<path>``
    (values dropped), and a record whose values cannot be cast losslessly is skipped under
    ``error_schema_mismatch``. Pass ``schema`` when metadata keys vary across documents.

    ``max_file_size`` rolls files (``000_00000.parquet``, ...) once the bytes flushed to a
    file reach it, so a file can exceed it by at most one batch. The output loads with
    ``pyarrow.parquet.read_table`` and ``datasets.load_dataset("parquet", ...)``.
    """

    name = "ParquetWriter"
    default_output_filename = "${rank}.parquet"
    _requires_dependencies = (("pyarrow", "io"),)
    compressions = {
        "snappy": "",
        "gzip": "",
        "zstd": "",
        "brotli": "",
        "lz4": "",
        "none": "",
        None: "",
    }
    infers_compression = False

    def __init__(
        self,
        output_folder: Any,
        output_filename: str | None = None,
        compression: ParquetCompression | None = "snappy",
        adapter: WriterAdapter | None = None,
        batch_size: int = 1000,
        expand_metadata: bool = False,
        max_file_size: int = -1,
        schema: Any = None,
    ) -> None:
        super().__init__(
            output_folder,
            output_filename=output_filename,
            compression=compression,
            adapter=adapter,
            expand_metadata=expand_metadata,
            max_file_size=max_file_size,
        )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.schema = None
        if schema is not None:
            from blocks.writers.arrow_schema import parse_schema

            self.schema = parse_schema(schema)
        self._schemas: dict[str, Any] = {}  # output name -> schema inferred for it

    def open_file(self, temp_relpath: str) -> _ParquetFile:
        return _ParquetFile(fh=self.output_folder.open(temp_relpath, "wb", compression=None))

    def _open(self, name: str) -> _Output:
        out = super()._open(name)
        out.handle.key = name
        return out

    def write(self, record: dict[str, Any], handle: _ParquetFile) -> int:
        handle.rows.append(record)
        if len(handle.rows) < self.batch_size:
            return 0
        return self._flush(handle)

    def close_file(self, handle: _ParquetFile) -> None:
        self._flush(handle)
        if handle.writer is None:
            # every record of the file was refused: still leave a valid (empty) Parquet file
            handle.writer = self._new_writer(handle.fh, self._schema(handle.key))
        handle.writer.close()
        handle.fh.close()

    def abort_file(self, handle: _ParquetFile) -> None:
        handle.rows.clear()
        for closable in (handle.writer, handle.fh):
            if closable is None:
                continue
            try:
                closable.close()
            except Exception:
                pass

    # -- batches --------------------------------------------------------------------
    def _schema(self, key: str, rows: list[dict[str, Any]] | None = None) -> Any:
        """The given schema, or the one inferred from the first rows written to ``key``."""
        from blocks.writers.arrow_schema import infer_schema

        if self.schema is not None:
            return self.schema
        if key not in self._schemas:
            self._schemas[key] = infer_schema(rows or [])
        return self._schemas[key]

    def _new_writer(self, fh: IO[bytes], schema: Any) -> Any:
        import pyarrow.parquet as pq

        codec = "none" if self.compression is None else self.compression
        return pq.ParquetWriter(fh, schema, compression=codec)

    def _flush(self, handle: _ParquetFile) -> int:
        """Write the buffered records as one row group; return the bytes it added."""
        if not handle.rows:
            return 0
        rows, handle.rows = handle.rows, []
        table = self._to_table(rows, self._schema(handle.key, rows))
        if table is None or table.num_rows == 0:
            return 0
        if handle.writer is None:
            handle.writer = self._new_writer(handle.fh, table.schema)
        before = handle.fh.tell()
        handle.writer.write_table(table)
        return int(handle.fh.tell() - before)

    def _to_table(self, rows: list[dict[str, Any]], schema: Any) -> Any:
        """The rows as a table of ``schema``; rows that cannot fit are counted and skipped."""
        import pyarrow as pa

        from blocks.writers.arrow_schema import CONVERSION_ERRORS, conform, infer_table

        try:
            table, dropped = conform(infer_table(rows), schema)
        except CONVERSION_ERRORS:
            tables = []
            dropped_total: dict[str, int] = {}
            for row in rows:  # find the culprits; keep every row that fits
                try:
                    one, one_dropped = conform(infer_table([row]), schema)
                except CONVERSION_ERRORS:
                    self.stat_update("error_schema_mismatch")
                    continue
                tables.append(one)
                for path, count in one_dropped.items():
                    dropped_total[path] = dropped_total.get(path, 0) + count
            for path, count in dropped_total.items():
                self.stat_update(f"schema_dropped_{path}", value=count)
            return pa.concat_tables(tables) if tables else None
        for path, count in dropped.items():
            self.stat_update(f"schema_dropped_{path}", value=count)
        return table
