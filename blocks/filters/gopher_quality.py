"""Gopher's document quality heuristics (Rae et al. 2021, "Scaling Language Models", A.1.1)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import compress

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.text import PUNCTUATION_SET, words

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


class _WordKinds(dict[str, int]):
    """word -> 0 (symbols only), 1 (has a non-symbol character), 3 (has a letter too).

    A dict with ``__missing__`` so that ``map(kinds.__getitem__, words)`` stays in C for
    the words already seen, which are nearly all of them.
    """

    def __missing__(self, word: str) -> int:
        kind = 0
        if any(ch not in PUNCTUATION_SET for ch in word):
            kind = 3 if any(ch.isalpha() for ch in word) else 1
        if len(self) >= 1_000_000:
            self.clear()
        self[word] = kind
        return kind


_WORD_KIND = _WordKinds()


def _ratio(part: int, whole: int) -> float:
    # DataTrove divides by zero on an empty document; we count it as "everything matches".
    return part / whole if whole else (math.inf if part else 0.0)


class GopherQualityFilter(BaseFilter):
    """Drop documents that fail Gopher's quality rules, with DataTrove's parameters and reasons.

    Words come from :func:`blocks.text.words` (spaCy-identical English splitting); "words"
    for the length and length-mean rules are those with at least one non-symbol character.
    A threshold set to ``None`` (or 0) disables its rule. Reasons: ``gopher_short_doc``,
    ``gopher_long_doc``, ``gopher_below_avg_threshold``, ``gopher_above_avg_threshold``,
    ``gopher_too_many_hashes``, ``gopher_too_many_ellipsis``, ``gopher_too_many_bullets``,
    ``gopher_too_many_end_ellipsis``, ``gopher_below_alpha_threshold``,
    ``gopher_enough_stop_words``.
    """

    name = "GopherQualityFilter"

    def __init__(
        self,
        min_doc_words: int | None = 50,
        max_doc_words: int | None = 100000,
        min_avg_word_length: int | None = 3,
        max_avg_word_length: int | None = 10,
        max_symbol_word_ratio: float | None = 0.1,
        max_bullet_lines_ratio: float | None = 0.9,
        max_ellipsis_lines_ratio: float | None = 0.3,
        max_non_alpha_words_ratio: float | None = 0.8,
        min_stop_words: int | None = 2,
        stop_words: Iterable[str] | None = None,
        exclusion_writer: PipelineStep | None = None,
        language: str = "en",
    ) -> None:
        super().__init__(exclusion_writer)
        self.min_doc_words = min_doc_words
        self.max_doc_words = max_doc_words
        self.min_avg_word_length = min_avg_word_length
        self.max_avg_word_length = max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        # despite its name, the minimum share of words that contain a letter
        self.max_non_alpha_words_ratio = max_non_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = frozenset(STOP_WORDS if stop_words is None else stop_words)
        self.language = language

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        text = doc.text
        doc_words = words(doc, self.language)
        n_words = len(doc_words)
        kinds = list(map(_WORD_KIND.__getitem__, doc_words))
        n_kept = n_words - kinds.count(0)

        if self.min_doc_words and n_kept < self.min_doc_words:
            return False, "gopher_short_doc"
        if self.max_doc_words and n_kept > self.max_doc_words:
            return False, "gopher_long_doc"

        avg = sum(map(len, compress(doc_words, kinds))) / n_kept if n_kept else math.nan
        if self.min_avg_word_length and avg < self.min_avg_word_length:
            return False, "gopher_below_avg_threshold"
        if self.max_avg_word_length and avg > self.max_avg_word_length:
            return False, "gopher_above_avg_threshold"

        if self.max_symbol_word_ratio:
            if _ratio(text.count("#"), n_words) > self.max_symbol_word_ratio:
                return False, "gopher_too_many_hashes"
            ellipses = text.count("...") + text.count("\u2026")
            if _ratio(ellipses, n_words) > self.max_symbol_word_ratio:
                return False, "gopher_too_many_ellipsis"

        lines = text.splitlines()
        if self.max_bullet_lines_ratio:
            bullets = sum(1 for s in lines if s.lstrip().startswith(("\u2022", "-")))
            if _ratio(bullets, len(lines)) > self.max_bullet_lines_ratio:
                return False, "gopher_too_many_bullets"
        if self.max_ellipsis_lines_ratio:
            ending = sum(1 for s in lines if s.rstrip().endswith(("...", "\u2026")))
            if _ratio(ending, len(lines)) > self.max_ellipsis_lines_ratio:
                return False, "gopher_too_many_end_ellipsis"

        if (
            self.max_non_alpha_words_ratio
            and (kinds.count(3) / n_words if n_words else 0.0) < self.max_non_alpha_words_ratio
        ):
            return False, "gopher_below_alpha_threshold"

        if (
            self.min_stop_words
            and len(self.stop_words.intersection(doc_words)) < self.min_stop_words
        ):
            return False, "gopher_enough_stop_words"
        return True
