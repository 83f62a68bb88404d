"""WARC / ARC / WET reader (DataTrove's ``WarcReader``), with WARC.gz byte-range splitting.

Record selection, decoding and metadata follow DataTrove 0.10.1 exactly, so both give
the same documents for the same file (tests/fixtures/datatrove/warc_counts.json):

1. only ``response`` records (HTML pages; ARC records are responses too) and WET
   ``conversion`` records are read;
2. a ``WARC-Identified-Payload-Type`` header, when present, must be ``text/html`` or
   ``application/xhtml+xml`` (or ``text/plain`` for conversions); when absent, libmagic
   sniffs the payload with the same rule (``python-magic``);
3. the payload (HTTP chunking and content encoding undone) is decoded as UTF-8, else
   with the charset ``cchardet`` detects; a payload neither decodes is dropped;
4. ``id`` is ``WARC-Record-ID``; metadata ``url`` (``WARC-Target-URI``, or the ARC
   ``uri``) and ``date`` (``WARC-Date``, or the ARC ``archive-date``).

Differences, all on input DataTrove fails on: ARC records (no record id) get the id
``<path>/<record index>`` instead of ``None``; a payload that cannot be de-chunked or
decompressed is counted under ``error_corrupt_record`` and skipped instead of failing the
task; a file warcio cannot parse further ends under ``error_corrupt_file`` after the
documents before the damage. Skipped records are counted: ``skipped_record_type``,
``skipped_mime``, ``error_decode`` (undecodable payload).

Splitting (``.warc.gz`` and ``.warc.wet.gz``, gzip member per record): ``read_range(path,
start, end)`` reads the records whose gzip member starts in ``[start, end)``; ``start``
and ``end`` may be any byte offsets (the reader resynchronizes on the next member that
starts a WARC record), so the planner can cut a big file at ``size * k / n`` without
inflating it. :func:`gzip_member_offsets` gives the exact member offsets when wanted.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterator
from typing import IO, Any, Literal

from blocks.document import Document
from blocks.errors import DocumentError
from blocks.io import compression_of, get_datafolder
from blocks.readers.base import BaseDiskReader
from blocks.readers.gzip_members import member_offsets, read_members, starts_warc_record

Compression = Literal["infer", "gzip", "zstd", "bz2", "xz"] | None

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def gzip_member_offsets(folder: Any, path: str) -> list[int]:
    """Start offset of every gzip member of ``path`` in ``folder`` (a DataFolder or any
    form :func:`blocks.io.get_datafolder` takes). Inflates the whole file once.

    Cutting a ``.warc.gz`` at these offsets gives ranges that are whole records; cutting
    anywhere else is also correct (``WarcReader.read_range`` resynchronizes), so the
    planner only needs this when it wants exact boundaries.
    """
    with get_datafolder(folder).open(path, "rb", compression=None) as fh:
        return member_offsets(fh)


class _ChunkStream(io.RawIOBase):
    """A read-only stream over ``(member offset, bytes)`` chunks that remembers where in
    the stream each member began (to name records without a record id)."""

    def __init__(self, chunks: Iterator[tuple[int, bytes]]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._consumed = 0
        self.member_starts: list[int] = []  # stream offsets
        self.member_offsets: list[int] = []  # file offsets

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                member, chunk = next(self._chunks)
            except StopIteration:
                return 0
            if not self.member_offsets or self.member_offsets[-1] != member:
                self.member_starts.append(self._consumed)
                self.member_offsets.append(member)
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._consumed += n
        return n

    def member_at(self, stream_offset: int) -> int:
        i = bisect.bisect_right(self.member_starts, stream_offset) - 1
        return self.member_offsets[max(i, 0)]


class _StreamWatch:
    """Turns an error of the underlying stream (truncated or corrupt compression) into a
    clean end of data for warcio, and remembers it so the reader can count it.

    warcio takes an ``EOFError`` met while parsing a header for the end of the records,
    and a buffered read that fails loses the bytes it had already got, so the last whole
    record before a cut would vanish silently. Reading with ``read1`` (one underlying read
    at a time) and ending softly keeps every whole record; the reader then re-raises the
    error (``error_truncated_file`` / ``error_corrupt_file``) and drops a record whose
    payload was being read when it happened.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self._read = getattr(fh, "read1", fh.read)
        self.error: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            return b""
        try:
            data: bytes = self._read(size)
        except Exception as err:
            self.error = err
            return b""
        return data

    def tell(self) -> int:
        return self.fh.tell()

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error


class WarcReader(BaseDiskReader):
    """Read WARC, ARC and WET files (plain, gz, zst, ...): one Document per HTML page
    (or WET text), as DataTrove's ``WarcReader``. See the module docstring."""

    name = "WarcReader"
    splittable = True
    _requires_dependencies = (("warcio", "io"), ("cchardet", "io"), ("magic", "io"))

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
        """gzip-compressed WARC/WET files (ARC records are not resynchronizable)."""
        return self._compression(filepath) == "gzip" and not filepath.lower().endswith(".arc.gz")

    # -- reading --------------------------------------------------------------------
    def read_file(self, filepath: str) -> Iterator[Document]:
        # The file is decompressed by fsspec and warcio parses plain WARC, as in DataTrove
        # (warcio's own gzip handling accepts files DataTrove rejects and vice versa).
        with self.data_folder.open(filepath, "rb", compression=self._compression(filepath)) as fh:
            yield from self._records(fh, filepath, None)

    def read_range(self, filepath: str, start: int, end: int) -> Iterator[Document]:
        if not self.can_split(filepath):
            raise ValueError(f"{filepath}: only gzip-compressed WARC files can be split")
        with self.data_folder.open(filepath, "rb", compression=None) as raw:
            stream = _ChunkStream(read_members(raw, start, end, starts_warc_record))
            with io.BufferedReader(stream, buffer_size=1 << 16) as fh:
                yield from self._records(fh, filepath, stream)

    def _records(
        self, fh: IO[bytes], filepath: str, ranged: _ChunkStream | None
    ) -> Iterator[Document]:
        from warcio.archiveiterator import ArchiveIterator
        from warcio.exceptions import ArchiveLoadFailed
        from warcio.recordloader import ArcWarcRecord
        from warcio.statusandheaders import StatusAndHeadersParserException

        watch = _StreamWatch(fh)
        archive = ArchiveIterator(watch)
        records: Iterator[ArcWarcRecord] = iter(archive)
        index = -1
        while True:
            try:
                record = next(records)
            except StopIteration:
                watch.reraise()  # warcio takes an EOFError for "no more records"
                return
            except (ArchiveLoadFailed, StatusAndHeadersParserException, ValueError) as err:
                watch.reraise()
                raise DocumentError("corrupt_file", f"{filepath}: {err}") from err
            index += 1
            data = self._process_record(record, watch)
            if data is None:
                continue
            if data["id"] is None:
                # ARC records have no record id: name them by position, stable per file
                # (whole file) or per gzip member (byte ranges, whatever the split)
                del data["id"]
                id_in_file: int | str = (
                    index if ranged is None else f"b{ranged.member_at(archive.get_record_offset())}"
                )
            else:
                id_in_file = index
            doc = self.get_document_from_dict(data, filepath, id_in_file)
            if doc is not None:
                yield doc

    def _process_record(self, record: Any, watch: _StreamWatch) -> dict[str, Any] | None:
        """DataTrove's record selection and decoding; None skips the record (counted)."""
        import cchardet
        import magic

        if record.rec_type not in ("response", "conversion"):
            self.stat_update("skipped_record_type")
            return None
        is_conversion = record.rec_type == "conversion"
        mime = record.rec_headers.get_header("WARC-Identified-Payload-Type")
        if mime is not None and not _wanted(mime, is_conversion):
            self.stat_update("skipped_mime")
            return None
        try:
            content = record.content_stream().read()
        except Exception:
            watch.reraise()  # the file itself is truncated or corrupt: counted per file
            # the record's own chunked body or content encoding (zlib, brotli, ...) is bad
            self.stat_update("error_corrupt_record")
            return None
        watch.reraise()  # the payload may be cut short: the record is not whole
        if mime is None and not _wanted(magic.from_buffer(content, mime=True), is_conversion):
            self.stat_update("skipped_mime")
            return None
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            detected = cchardet.detect(content)["encoding"]
            if not detected or detected == "UTF-8":
                self.stat_update("error_decode")
                return None
            try:
                text = content.decode(detected)
            except (UnicodeDecodeError, LookupError):
                self.stat_update("error_decode")
                return None
        headers = record.rec_headers
        url = headers.get_header("WARC-Target-URI")
        date = headers.get_header("WARC-Date")
        if not url:
            url = dict(headers.headers).get("uri")
        if not date:
            date = dict(headers.headers).get("archive-date")
        return {"text": text, "id": headers.get_header("WARC-Record-ID"), "url": url, "date": date}


def _wanted(mime: str, is_conversion: bool) -> bool:
    return mime in _HTML_TYPES or (is_conversion and mime == "text/plain")
