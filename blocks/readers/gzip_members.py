"""Multi-member gzip files (per-record WARC.gz) read by byte range.

A WARC.gz file is a concatenation of gzip members, normally one per record. A shard can
therefore start reading at any member boundary. These helpers let the planner cut a big
file at arbitrary byte offsets and let each shard read exactly its own members:

* :func:`read_members` yields the decompressed bytes of the members that *start* in
  ``[start, end)``. When ``start`` is not a member boundary it resynchronizes on the first
  real member at or after ``start`` (gzip magic, a complete member with a valid CRC-32 and
  length, and — with ``accept`` — decompressed data that starts a record). Members that
  ``accept`` rejects (a record continued in a second member) are read by the range that
  read the member before them, so records are never split across shards.
* :func:`member_offsets` lists every member start by inflating the file once (output
  discarded; about the cost of reading the file). The planner does not need it to
  split a file — any cut works — but it gives exact boundaries when wanted.

No gzip member can be located without inflating (the format has no length field), which
is why cutting anywhere and resynchronizing is the cheap path.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from typing import IO

GZIP_MAGIC = b"\x1f\x8b\x08"
_READ = 1 << 20  # compressed bytes per read
_OUT = 1 << 18  # decompressed bytes per chunk, bounds memory on highly compressible data
_PEEK = 16

Accept = Callable[[bytes], bool]


class _MemberWalker:
    """Walks consecutive members from a member boundary; ``pos`` is the file offset of
    the first byte of ``buf``."""

    def __init__(self, fh: IO[bytes], pos: int) -> None:
        self.fh = fh
        fh.seek(pos)
        self.pos = pos
        self.buf = b""

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.fh.read(_READ)
            if not chunk:
                return
            self.buf += chunk

    def next_member(self) -> int | None:
        """Offset of the member starting here, or None at the end of the file.

        Like Python's gzip module, NUL padding after the last member is ignored and any
        other trailing bytes are an error.
        """
        self._fill(len(GZIP_MAGIC))
        while self.buf[:1] == b"\x00":
            stripped = self.buf.lstrip(b"\x00")
            self.pos += len(self.buf) - len(stripped)
            self.buf = stripped
            self._fill(len(GZIP_MAGIC))
        if not self.buf:
            return None
        if self.buf[: len(GZIP_MAGIC)] != GZIP_MAGIC:
            raise gzip.BadGzipFile(f"no gzip member at byte {self.pos}")
        return self.pos

    def member_chunks(self) -> Iterator[bytes]:
        """Decompressed data of the member at ``pos``; afterwards ``pos`` is its end.

        Raises ``EOFError`` when the file ends inside the member and ``zlib.error`` when
        its data or CRC is bad.
        """
        start = self.pos
        inflater = zlib.decompressobj(31)
        data, self.buf = self.buf, b""
        while not inflater.eof:
            if not data:
                data = self.fh.read(_READ)
                if not data:
                    raise EOFError(f"the gzip member at byte {start} is truncated")
            self.pos += len(data)
            out = inflater.decompress(data, _OUT)
            if out:
                yield out
            while inflater.unconsumed_tail and not inflater.eof:
                out = inflater.decompress(inflater.unconsumed_tail, _OUT)
                if out:
                    yield out
            data = b""
        self.buf = inflater.unused_data
        self.pos -= len(self.buf)


def _peek(chunks: Iterator[bytes], n: int) -> tuple[bytes, Iterator[bytes]]:
    """The first ``n`` bytes of a chunk stream, and the whole stream again."""
    head: list[bytes] = []
    size = 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= n:
            break

    def replay() -> Iterator[bytes]:
        yield from head
        yield from chunks

    return b"".join(head)[:n], replay()


def member_offsets(fh: IO[bytes]) -> list[int]:
    """Start offset of every gzip member of a (seekable) file, in order."""
    walker = _MemberWalker(fh, 0)
    offsets = []
    while (pos := walker.next_member()) is not None:
        offsets.append(pos)
        for _ in walker.member_chunks():
            pass
    return offsets


def _is_member_start(fh: IO[bytes], pos: int, accept: Accept | None) -> bool:
    """Whether a complete, valid member (that ``accept`` takes) starts at ``pos``.

    A member cut short by the end of the file still counts when its beginning inflates
    cleanly: reading it will then report the truncation instead of losing it silently.
    """
    walker = _MemberWalker(fh, pos)
    chunks = walker.member_chunks()
    try:
        head, chunks = _peek(chunks, _PEEK)
        if accept is not None and not accept(head):
            return False
        for _ in chunks:
            pass
    except EOFError:
        return accept is not None
    except zlib.error:
        return False
    return True


def find_member(fh: IO[bytes], start: int, end: int, accept: Accept | None = None) -> int | None:
    """The first valid member starting in ``[start, end)``, or None."""
    pos = start
    while pos < end:
        fh.seek(pos)
        window = fh.read(min(_READ, end - pos + len(GZIP_MAGIC) - 1))
        if not window:
            return None
        i = window.find(GZIP_MAGIC)
        while i != -1 and pos + i < end:
            if _is_member_start(fh, pos + i, accept):
                return pos + i
            i = window.find(GZIP_MAGIC, i + 1)
        if len(window) < len(GZIP_MAGIC):
            return None
        pos += len(window) - len(GZIP_MAGIC) + 1
    return None


def read_members(
    fh: IO[bytes], start: int, end: int, accept: Accept | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(member offset, decompressed chunk)`` for the members that start in ``[start, end)``,
    followed by any members after them that ``accept`` rejects (continuations)."""
    first = 0 if start == 0 else find_member(fh, start, end, accept)
    if first is None or first >= end:
        return
    walker = _MemberWalker(fh, first)
    while (pos := walker.next_member()) is not None:
        chunks = walker.member_chunks()
        if pos != first:
            if accept is None:
                if pos >= end:
                    return
            else:
                head, chunks = _peek(chunks, _PEEK)
                if pos >= end and accept(head):
                    return
        for chunk in chunks:
            yield pos, chunk


def starts_warc_record(head: bytes) -> bool:
    """Whether decompressed member data begins a WARC record (blank lines allowed first)."""
    return head.lstrip(b"\r\n").startswith(b"WARC/")
