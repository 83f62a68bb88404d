"""Token blocks: token counts per document and their length histogram."""

from blocks.tokens.counter import TokensCounter
from blocks.tokens.length_counter import LengthCounter

__all__ = ["LengthCounter", "TokensCounter"]
