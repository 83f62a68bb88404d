"""Gopher's repetition heuristics (Rae et al. 2021, table A1): repeated lines, paragraphs, n-grams."""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Sequence
from itertools import compress

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.text import words

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


def _grams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def top_ngram_chars(tokens: Sequence[str], n: int) -> int:
    """Characters covered by the most frequent n-gram (words joined by one space) times its count.

    Among equally frequent n-grams the first to appear counts, as with ``Counter.most_common``.
    """
    counts = Counter(_grams(tokens, n))
    if not counts:
        return 0
    gram, count = max(counts.items(), key=operator.itemgetter(1))
    return (sum(map(len, gram)) + n - 1) * count


def joined_ngrams(tokens: Sequence[str], n: int, shorter: list[str] | None = None) -> list[str]:
    """The n-grams of ``tokens`` glued without spaces; ``shorter``, when given, must be
    the (n-1)-grams of the same tokens, which saves re-joining every word."""
    if shorter is not None and n > 1:
        return list(map(operator.add, shorter[: len(tokens) - n + 1], tokens[n - 1 :]))
    return list(map("".join, _grams(tokens, n)))


def duplicate_ngram_chars(tokens: Sequence[str], n: int, grams: list[str] | None = None) -> int:
    """Characters of n-grams (words glued without spaces) that repeat an earlier one.

    Scanning left to right, an n-gram already seen adds its length and the scan jumps past
    it (so overlapping repeats are not counted twice). Only n-grams that occur at least
    twice can ever be "already seen", so the scan visits just their positions.
    """
    if grams is None:
        grams = joined_ngrams(tokens, n)
    if len(set(grams)) == len(grams):
        return 0
    counts = Counter(grams)
    repeated = set(compress(counts.keys(), map((1).__lt__, counts.values())))
    positions = compress(range(len(grams)), map(repeated.__contains__, grams))
    seen: set[str] = set()
    total = 0
    next_free = 0
    for idx in positions:
        if idx < next_free:
            continue
        gram = grams[idx]
        if gram in seen:
            total += len(gram)
            next_free = idx + n
        else:
            seen.add(gram)
    return total


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

        doc_words = words(doc, self.language)
        for n, frac in self.top_n_grams:
            if top_ngram_chars(doc_words, n) / size > frac:
                return False, f"top_{n}_gram"
        previous: tuple[int, list[str]] | None = None
        for n, frac in self.dup_n_grams:
            # n-grams are built from the (n-1)-grams of the previous rule when there is one
            shorter = previous[1] if previous is not None and previous[0] == n - 1 else None
            grams = joined_ngrams(doc_words, n, shorter)
            previous = (n, grams)
            if duplicate_ngram_chars(doc_words, n, grams) / size > frac:
                return False, f"duplicated_{n}_n_grams"
        return True
