"""Readers: turn files into Documents."""

from blocks.readers.base import BaseDiskReader, BaseReader
from blocks.readers.jsonl import JsonlReader

__all__ = ["BaseDiskReader", "BaseReader", "JsonlReader"]
