"""What counts as corrupt input, and the stat it is counted under.

Corrupt input never fails a shard. A bad record is skipped and counted by the reader
that found it (``error_bad_json``, ``error_decode``, ``error_missing_text``, ...). An error
that leaves the rest of a file unreadable ends that file, is counted here, and the shard
goes on with the next file:

==========================  ==========================================================
``error_truncated_file``    a compressed stream ends early (``EOFError``)
``error_corrupt_file``      bad compressed data (gzip, bz2, xz, zstd), a reader's own
                            format errors (``corrupt_file_errors()``: bad Parquet or
                            Arrow file, unparsable WARC ...) and errno-less ``OSError``
                            (see :func:`is_data_error`)
``error_decode``            a text-mode reader met bytes that are not UTF-8
``error_<kind>``            a reader raised ``DocumentError(kind)``
==========================  ==========================================================

Anything else — a missing file, a storage or network error — fails the shard so that
it is retried rather than silently skipped.
"""

from __future__ import annotations

import gzip
import lzma
import zlib

from blocks.base import _error_label
from blocks.errors import DocumentError

_BAD_COMPRESSION: tuple[type[BaseException], ...] = (zlib.error, gzip.BadGzipFile, lzma.LZMAError)


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


def is_data_error(err: OSError) -> bool:
    """Whether an OSError means bad bytes rather than bad storage.

    bz2 ("Invalid data stream") and pyarrow (corrupt page, truncated IPC message) report
    corrupt data as a bare ``OSError`` without errno. Missing files, refused connections,
    timeouts and I/O errors are subclasses or carry an errno.
    """
    return type(err) is OSError and err.errno is None


class CorruptInput:
    """Classifies the exceptions a reader raised while reading one file."""

    def __init__(self, format_errors: tuple[type[BaseException], ...] = ()) -> None:
        self.corrupt = _BAD_COMPRESSION + _zstd_errors() + format_errors
        #: every exception type worth looking at; ``stat`` may still refuse one
        self.caught: tuple[type[BaseException], ...] = (
            DocumentError,
            UnicodeDecodeError,
            EOFError,
            *self.corrupt,
            OSError,
        )

    def stat(self, err: BaseException) -> str | None:
        """The stat to count ``err`` under, or None when it must fail the shard."""
        if isinstance(err, DocumentError):
            return _error_label(err)
        if isinstance(err, UnicodeDecodeError):
            return "error_decode"
        if isinstance(err, EOFError):
            return "error_truncated_file"
        if isinstance(err, self.corrupt):
            return "error_corrupt_file"
        if isinstance(err, OSError) and is_data_error(err):
            return "error_corrupt_file"
        return None
