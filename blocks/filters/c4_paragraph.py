"""mC4's paragraph rule: a page needs a few long lines."""

from __future__ import annotations

import heapq

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document


class C4ParagraphFilter(BaseFilter):
    """Drop pages with fewer than 3 lines, or whose 3 longest lines are not all >= 200 chars.

    As in mC4 (and DataTrove, where these numbers are fixed), "paragraphs" are the lines of
    the text split on "\\n". Reason: ``< 3 paragraphs``.
    """

    name = "C4ParagraphFilter"

    def __init__(self, exclusion_writer: PipelineStep | None = None) -> None:
        super().__init__(exclusion_writer)
        self.min_paragraphs = 3
        self.min_paragraph_len = 200
        self.line_delimiter = "\n"

    def paragraph_filter(self, page: str) -> bool:
        """False when the page has too few or too short paragraphs."""
        lines = page.split(self.line_delimiter)
        if len(lines) < self.min_paragraphs:
            return False
        longest = heapq.nlargest(self.min_paragraphs, map(len, lines))
        return min(longest) >= self.min_paragraph_len

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not self.paragraph_filter(doc.text):
            return False, f"< {self.min_paragraphs} paragraphs"
        return True
