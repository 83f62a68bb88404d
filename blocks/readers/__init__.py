"""Readers: turn files into Documents (DataTrove's reader names and options).

``JsonlReader``, ``ParquetReader``, ``CsvReader``, ``WarcReader`` (WARC, ARC, WET) and
``IpcReader`` (Arrow IPC file and stream format). Each block imports its format library
lazily, so importing this package stays light.
"""

from blocks.readers.base import BaseDiskReader, BaseReader
from blocks.readers.csv import CSVReader, CsvReader
from blocks.readers.ipc import IpcReader
from blocks.readers.jsonl import JsonlReader
from blocks.readers.parquet import ParquetReader
from blocks.readers.warc import WarcReader, gzip_member_offsets

__all__ = [
    "BaseDiskReader",
    "BaseReader",
    "CSVReader",
    "CsvReader",
    "IpcReader",
    "JsonlReader",
    "ParquetReader",
    "WarcReader",
    "gzip_member_offsets",
]
