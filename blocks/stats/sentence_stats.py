"""Sentence-level metrics (DataTrove's ``SentenceStats``), from the shared sentence split."""

from __future__ import annotations

from typing import Any

from blocks.document import Document
from blocks.stats.base import GROUP, BaseStats, TopKConfig, safe_divide
from blocks.text import sentences


class SentenceStats(BaseStats):
    """Sentence count, mean sentence length, short and long sentence ratios."""

    name = "SentenceStats"

    def __init__(
        self,
        output_folder: Any,
        short_sentence_max_chars_threshold: list[int] | None = None,
        long_sentence_max_chars_threshold: list[int] | None = None,
        language: str = "en",
        histogram_round_digits: int = 3,
        groups_to_compute: list[GROUP] | None = None,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(output_folder, groups_to_compute, histogram_round_digits, top_k_config)
        self.short_thresholds = short_sentence_max_chars_threshold or [20]
        self.long_thresholds = long_sentence_max_chars_threshold or [75]
        self.language = language

    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        # DataTrove strips each sentence before measuring it
        found = [t for t in (s.strip() for s in sentences(doc, self.language)) if t]
        n = len(found)
        lengths = [len(s) for s in found]
        out: dict[str, int | float] = {
            "n_sentences": n,
            "avg_sentence_length": safe_divide(sum(lengths), n),
        }
        for chars in self.short_thresholds:
            out[f"short_sentence_ratio_{chars}"] = safe_divide(
                sum(1 for x in lengths if x <= chars), n
            )
        for chars in self.long_thresholds:
            out[f"long_sentence_ratio_{chars}"] = safe_divide(
                sum(1 for x in lengths if x >= chars), n
            )
        return out
