"""Formatters: rewrite document text (PII, encoding repair, symbol-only lines)."""

from blocks.formatters.ftfy import FTFYFormatter
from blocks.formatters.pii import PIIFormatter
from blocks.formatters.symbol_lines import SymbolLinesFormatter

__all__ = ["FTFYFormatter", "PIIFormatter", "SymbolLinesFormatter"]
