"""Arrow IPC reader (DataTrove's ``IpcReader``): file and stream format, e.g. HF ``datasets`` caches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from blocks.document import Document
from blocks.readers.base import BaseDiskReader

_FILE_MAGIC = b"ARROW1"


class IpcReader(BaseDiskReader):
    """Read Arrow IPC files one record batch at a time, one Document per row.

    ``stream=None`` (the default) looks at the first bytes: the random-access *file* format
    starts with ``ARROW1``, anything else is read as the *stream* format, which is what
    Hugging Face ``datasets`` writes to its ``.arrow`` cache files. ``True``/``False`` force
    one format as in DataTrove (whose default, ``False``, cannot read ``datasets`` caches).
    A row without id gets ``<path>/<row index>``; an unreadable file ends under
    ``error_corrupt_file``.
    """

    name = "IpcReader"
    _requires_dependencies = (("pyarrow", "io"),)

    def __init__(
        self,
        data_folder: Any,
        stream: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # the other options (paths_file, limit, skip, text_key, id_key, glob_pattern...)
        # are BaseDiskReader's; the spec validator checks them against its signature
        super().__init__(data_folder, **kwargs)
        self.stream = stream

    def corrupt_file_errors(self) -> tuple[type[BaseException], ...]:
        import pyarrow as pa

        return (pa.ArrowException,)

    def _batches(self, fh: IO[bytes]) -> Iterator[Any]:
        import pyarrow as pa

        stream = self.stream
        if stream is None:
            stream = fh.read(len(_FILE_MAGIC)) != _FILE_MAGIC
            fh.seek(0)
        if stream:
            with pa.ipc.open_stream(fh) as reader:
                yield from reader
        else:
            with pa.ipc.open_file(fh) as reader:
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)

    def read_file(self, filepath: str) -> Iterator[Document]:
        with self.data_folder.open(filepath, "rb", compression=None) as fh:
            row = 0
            for batch in self._batches(fh):
                for record in batch.to_pylist():
                    doc = self.get_document_from_dict(record, filepath, row)
                    row += 1
                    if doc is not None:
                        yield doc
