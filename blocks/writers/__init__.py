"""Writers: Documents to files, committed only when the shard succeeds."""

from blocks.writers.base import DiskWriter
from blocks.writers.jsonl import JsonlWriter
from blocks.writers.parquet import ParquetWriter

__all__ = ["DiskWriter", "JsonlWriter", "ParquetWriter"]
