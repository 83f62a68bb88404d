"""Gopher's repetition heuristics (Rae et al. 2021, table A1): repeated lines, paragraphs, n-grams."""

from __future__ import annotations

import re
from collections.abc import Sequence

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.filters.ngram_stats import (
    NgramStats,
    duplicate_ngram_chars,
    joined_ngrams,
    top_ngram_chars,
)
from blocks.text import words

__all__ = [
    "GopherRepetitionFilter",
    "duplicate_ngram_chars",
    "find_duplicates",
    "joined_ngrams",
    "top_ngram_chars",
]

_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


def find_duplicates(items: Sequence[str]) -> tuple[int, int]:
    """(number of items seen before, their total characters), first occurrences excluded."""
    seen: set[str] = set()
    dup_items = dup_chars = 0
    for item in items:
        if item in seen:
            dup_items += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    return dup_items, dup_chars


class GopherRepetitionFilter(BaseFilter):
    """Drop documents with too much repeated content, with DataTrove's parameters and reasons.

    Fractions are of the document's characters (or of its paragraphs / lines for the
    ``*_frac`` counts). Reasons: ``empty``, ``dup_para_frac``, ``dup_para_char_frac``,
    ``dup_line_frac``, ``dup_line_char_frac``, ``top_<n>_gram``, ``duplicated_<n>_n_grams``.
    """

    name = "GopherRepetitionFilter"

    def __init__(
        self,
        dup_line_frac: float | None = 0.3,
        dup_para_frac: float | None = 0.3,
        dup_line_char_frac: float | None = 0.2,
        dup_para_char_frac: float | None = 0.2,
        top_n_grams: Sequence[Sequence[float]] = ((2, 0.2), (3, 0.18), (4, 0.16)),
        dup_n_grams: Sequence[Sequence[float]] = (
            (5, 0.15),
            (6, 0.14),
            (7, 0.13),
            (8, 0.12),
            (9, 0.11),
            (10, 0.10),
        ),
        exclusion_writer: PipelineStep | None = None,
        language: str = "en",
    ) -> None:
        super().__init__(exclusion_writer)
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = [(int(n), float(frac)) for n, frac in top_n_grams]
        self.dup_n_grams = [(int(n), float(frac)) for n, frac in dup_n_grams]
        self.language = language

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        if not text:
            return False, "empty"
        size = len(text)

        paragraphs = _PARAGRAPHS.split(text.strip())
        dup_items, dup_chars = find_duplicates(paragraphs)
        if self.dup_para_frac and dup_items / len(paragraphs) > self.dup_para_frac:
            return False, "dup_para_frac"
        if self.dup_para_char_frac and dup_chars / size > self.dup_para_char_frac:
            return False, "dup_para_char_frac"

        lines = _LINES.split(text)
        dup_items, dup_chars = find_duplicates(lines)
        if self.dup_line_frac and dup_items / len(lines) > self.dup_line_frac:
            return False, "dup_line_frac"
        if self.dup_line_char_frac and dup_chars / size > self.dup_line_char_frac:
            return False, "dup_line_char_frac"

        stats = NgramStats(words(doc, self.language))
        for n, frac in self.top_n_grams:
            if stats.top_chars(n) / size > frac:
                return False, f"top_{n}_gram"
        for n, frac in self.dup_n_grams:
            if stats.duplicate_chars(n) / size > frac:
                return False, f"duplicated_{n}_n_grams"
        return True
