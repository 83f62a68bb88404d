"""JSON Lines writer (DataTrove's ``JsonlWriter``): one JSON object per line, gzip by default."""

from __future__ import annotations

from typing import IO, Any

import orjson

from blocks.writers.base import DiskWriter


class JsonlWriter(DiskWriter):
    """Write ``{"text", "id", "metadata"}`` per line to ``${rank}.jsonl.gz``."""

    name = "JsonlWriter"
    default_output_filename = "${rank}.jsonl"

    def open_file(self, temp_relpath: str) -> IO[bytes]:
        return self.output_folder.open(temp_relpath, "wb", compression=self.compression)

    def write(self, record: dict[str, Any], handle: IO[bytes]) -> int:
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
        handle.write(line)
        return len(line)
