"""JSON Lines writer (DataTrove's ``JsonlWriter``): one JSON object per line, gzip by default."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import lzma
from typing import IO, Any

import orjson

from blocks.errors import DocumentError
from blocks.writers.base import DiskWriter, WriterAdapter

_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


#: codec levels when none is given: zlib's and zstd's own defaults, not gzip's 9, which is
#: 1.5x slower than 6 for 0.4% smaller files on web text
DEFAULT_LEVELS: dict[str, int] = {"gzip": 6, "zstd": 3, "bz2": 9, "xz": 6}


class _Compressed:
    """A compressing stream over a raw file; closing it closes both."""

    def __init__(self, raw: IO[bytes], codec: str, level: int) -> None:
        self.raw = raw
        self.stream: Any
        if codec == "gzip":
            # no timestamp and no (temporary, random) name in the header: a re-run writes
            # byte-identical files
            self.stream = gzip.GzipFile(
                filename="", fileobj=raw, mode="wb", compresslevel=level, mtime=0
            )
        elif codec == "zstd":
            import zstandard

            self.stream = zstandard.ZstdCompressor(level=level).stream_writer(raw, closefd=False)
        elif codec == "bz2":
            self.stream = bz2.BZ2File(raw, "wb", compresslevel=level)
        elif codec == "xz":
            self.stream = lzma.LZMAFile(raw, "wb", preset=level)  # noqa: SIM115 (closed in close)
        else:
            raise ValueError(f"unknown codec {codec!r}")

    def write(self, data: bytes) -> int:
        return int(self.stream.write(data))

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self.raw.close()


def _json_default(value: Any) -> Any:
    # orjson encodes datetime/date/time but not their subclasses (pandas.Timestamp)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(type(value).__name__)


class JsonlWriter(DiskWriter):
    """Write ``{"text", "id", "metadata"}`` per line to ``${rank}.jsonl.gz``.

    ``compression``: ``gzip`` (default), ``zstd``, ``bz2``, ``xz``, ``None`` or ``"infer"``
    (from the file name); the codec's suffix is appended to a name that lacks it.
    ``compression_level`` defaults to gzip 6 / zstd 3 (see ``DEFAULT_LEVELS``); gzip files
    carry no timestamp, so re-running a shard writes byte-identical files. A
    document whose metadata cannot be encoded as JSON is skipped under
    ``error_unserializable``; numpy values, datetimes and sets are converted.
    """

    name = "JsonlWriter"
    default_output_filename = "${rank}.jsonl"

    def __init__(
        self,
        output_folder: Any,
        output_filename: str | None = None,
        compression: str | None = "gzip",
        adapter: WriterAdapter | None = None,
        expand_metadata: bool = False,
        max_file_size: int = -1,
        compression_level: int | None = None,
    ) -> None:
        super().__init__(
            output_folder,
            output_filename=output_filename,
            compression=compression,
            adapter=adapter,
            expand_metadata=expand_metadata,
            max_file_size=max_file_size,
        )
        self.compression_level = compression_level

    def open_file(self, temp_relpath: str) -> IO[bytes] | _Compressed:
        raw = self.output_folder.open(temp_relpath, "wb", compression=None)
        if self.compression is None:
            return raw
        level = self.compression_level
        return _Compressed(
            raw, self.compression, DEFAULT_LEVELS[self.compression] if level is None else level
        )

    def write(self, record: dict[str, Any], handle: IO[bytes] | _Compressed) -> int:
        try:
            line = orjson.dumps(record, default=_json_default, option=_OPTIONS)
        except TypeError as err:  # orjson.JSONEncodeError is a TypeError
            raise DocumentError("unserializable", str(err)) from err
        handle.write(line)
        return len(line)
