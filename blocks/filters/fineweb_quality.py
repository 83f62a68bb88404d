"""FineWeb's extra quality rules (Penedo et al. 2024): punctuation, short lines, repeats, lists."""

from __future__ import annotations

from collections.abc import Sequence

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.filters.gopher_repetition import find_duplicates
from blocks.text import TERMINAL_PUNCTUATION, words


class FineWebQualityFilter(BaseFilter):
    """Drop documents whose lines look like navigation, lists or boilerplate.

    Over the non-blank lines: fewer than ``line_punct_thr`` of them end in a stop character
    (``line_punct_ratio``; a document with none passes when ``line_punct_exclude_zero``),
    more than ``short_line_thr`` are at most ``short_line_length`` characters
    (``short_line_ratio``), repeated lines cover more than ``char_duplicates_ratio`` of the
    characters (``char_dup_ratio``), or there are more than ``new_line_ratio`` line breaks
    per word (``list_ratio``). A blank document is dropped as ``empty``.
    """

    name = "FineWebQualityFilter"

    def __init__(
        self,
        exclusion_writer: PipelineStep | None = None,
        line_punct_thr: float = 0.12,
        line_punct_exclude_zero: bool = False,
        stop_chars: Sequence[str] | None = None,
        short_line_thr: float = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float = 0.01,
        new_line_ratio: float = 0.3,
        language: str = "en",
    ) -> None:
        super().__init__(exclusion_writer)
        self.line_punct_thr = line_punct_thr
        self.line_punct_exclude_zero = line_punct_exclude_zero
        self.stop_chars = (
            tuple(stop_chars) if stop_chars is not None else tuple(TERMINAL_PUNCTUATION)
        )
        # one-character stop chars (the default) are tested with a set lookup
        self._stop_set = (
            frozenset(self.stop_chars) if all(len(c) == 1 for c in self.stop_chars) else None
        )
        self.short_line_threshold = short_line_thr
        self.short_line_length = short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio
        self.language = language

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return False, "empty"
        n_lines = len(lines)
        stop_set = self._stop_set
        if stop_set is not None:
            ending = sum(1 for line in lines if line[-1] in stop_set)
        else:
            ending = sum(1 for line in lines if line.endswith(self.stop_chars))
        ratio = ending / n_lines
        if ratio < self.line_punct_thr and not (ratio == 0 and self.line_punct_exclude_zero):
            return False, "line_punct_ratio"

        ratio = sum(1 for line in lines if len(line) <= self.short_line_length) / n_lines
        if ratio > self.short_line_threshold:
            return False, "short_line_ratio"

        ratio = find_duplicates(lines)[1] / (len(text) - text.count("\n"))
        if ratio > self.char_duplicates_ratio:
            return False, "char_dup_ratio"

        doc_words = words(doc, self.language)
        if text.count("\n") / max(len(doc_words), 1) > self.new_line_ratio:
            return False, "list_ratio"
        return True
