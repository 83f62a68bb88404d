"""Word-level metrics (DataTrove's ``WordStats``), from the shared word split of blocks.text."""

from __future__ import annotations

from typing import Any

from blocks.document import Document
from blocks.filters.gopher_quality import STOP_WORDS
from blocks.stats.base import GROUP, BaseStats, TopKConfig, safe_divide
from blocks.text import words


class WordStats(BaseStats):
    """Word count, mean word length, words per line, short/long word ratios, type-token
    ratio, uppercase, capitalized and stop word ratios."""

    name = "WordStats"

    def __init__(
        self,
        output_folder: Any,
        stop_words: list[str] | None = None,
        short_word_max_chars_threshold: list[int] | None = None,
        long_word_max_chars_threshold: list[int] | None = None,
        language: str = "en",
        groups_to_compute: list[GROUP] | None = None,
        histogram_round_digits: int = 3,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(output_folder, groups_to_compute, histogram_round_digits, top_k_config)
        self.stop_words = frozenset(STOP_WORDS if stop_words is None else stop_words)
        self.short_thresholds = short_word_max_chars_threshold or [3]
        self.long_thresholds = long_word_max_chars_threshold or [7]
        self.language = language

    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        tokens = words(doc, self.language)
        n = len(tokens)
        lengths = [len(w) for w in tokens]
        out: dict[str, int | float] = {
            "n_words": n,
            "avg_word_length": safe_divide(sum(lengths), n),
            "avg_words_per_line": safe_divide(n, len(doc.text.splitlines())),
        }
        for chars in self.short_thresholds:
            out[f"short_word_ratio_{chars}"] = safe_divide(sum(1 for x in lengths if x <= chars), n)
        for chars in self.long_thresholds:
            out[f"long_word_ratio_{chars}"] = safe_divide(sum(1 for x in lengths if x >= chars), n)
        out["type_token_ratio"] = safe_divide(len(set(tokens)), n)
        out["uppercase_word_ratio"] = safe_divide(sum(1 for w in tokens if w.isupper()), n)
        out["capitalized_word_ratio"] = safe_divide(sum(1 for w in tokens if w.istitle()), n)
        out["stop_word_ratio"] = safe_divide(sum(1 for w in tokens if w in self.stop_words), n)
        return out
