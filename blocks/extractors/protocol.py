"""The extractor sandbox's wire format: length-prefixed frames over pipes, no pickle.

A frame is ``kind (1 byte) | length (8 bytes, big endian) | payload``::

    parent -> child   I  init: JSON {"module", "qualname", "params", "memory_limit_mb"}
                      D  document: UTF-8 text (surrogatepass, so any Python str survives)
    child -> parent   K  ready (after the warm-up call)
                      F  init failed: JSON {"error"}
                      R  result: 16 bytes (start, end: child monotonic clock) + UTF-8 text
                      N  result was empty / None: 16 bytes of times
                      E  extract raised: 16 bytes of times + JSON {"error"}

The blocking helpers at the bottom are the child's; the parent multiplexes its pipes
without blocking (see :mod:`blocks.extractors.sandbox`).
"""

from __future__ import annotations

import os
import struct

HEADER = struct.Struct(">BQ")
TIMES = struct.Struct(">dd")
# Exit status of a child whose extractor ran out of memory under its limit.
EXIT_MEMORY = 86

INIT, DOC, READY, FAILED, RESULT, EMPTY, ERROR = (ord(c) for c in "IDKFRNE")


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def decode_text(data: bytes | memoryview) -> str:
    return bytes(data).decode("utf-8", "surrogatepass")


def split_frame(buf: bytearray) -> tuple[int, bytes] | None:
    """Remove and return the first complete frame of ``buf``, or None if there is none yet."""
    if len(buf) < HEADER.size:
        return None
    kind, length = HEADER.unpack_from(buf)
    end = HEADER.size + length
    if len(buf) < end:
        return None
    payload = bytes(buf[HEADER.size : end])
    del buf[:end]
    return kind, payload


# -- blocking helpers (child side) ----------------------------------------------------
def read_exact(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or None at end of file."""
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> tuple[int, bytes] | None:
    """The next frame from ``fd``, or None at end of file."""
    header = read_exact(fd, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    payload = read_exact(fd, length) if length else b""
    return None if payload is None else (kind, payload)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
