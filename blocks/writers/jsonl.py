"""JSON Lines writer (DataTrove's ``JsonlWriter``): one JSON object per line, gzip by default."""

from __future__ import annotations

import datetime as dt
from typing import IO, Any

import orjson

from blocks.errors import DocumentError
from blocks.writers.base import DiskWriter, WriterAdapter

_OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


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
    (from the file name); the codec's suffix is appended to a name that lacks it. A
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
    ) -> None:
        super().__init__(
            output_folder,
            output_filename=output_filename,
            compression=compression,
            adapter=adapter,
            expand_metadata=expand_metadata,
            max_file_size=max_file_size,
        )

    def open_file(self, temp_relpath: str) -> IO[bytes]:
        return self.output_folder.open(temp_relpath, "wb", compression=self.compression)

    def write(self, record: dict[str, Any], handle: IO[bytes]) -> int:
        try:
            line = orjson.dumps(record, default=_json_default, option=_OPTIONS)
        except TypeError as err:  # orjson.JSONEncodeError is a TypeError
            raise DocumentError("unserializable", str(err)) from err
        handle.write(line)
        return len(line)
