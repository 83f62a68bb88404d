"""Paragraph-level metrics (DataTrove's ``ParagraphStats``); paragraphs split on blank lines."""

from __future__ import annotations

from typing import Any

from blocks.document import Document
from blocks.filters.gopher_repetition import find_duplicates
from blocks.stats.base import GROUP, BaseStats, TopKConfig, safe_divide


class ParagraphStats(BaseStats):
    """Paragraph count, mean length, short/long paragraph ratios and duplicates."""

    name = "ParagraphStats"

    def __init__(
        self,
        output_folder: Any,
        short_paragraph_max_chars_threshold: list[int] | None = None,
        long_paragraph_max_chars_threshold: list[int] | None = None,
        ignore_empty_paragraphs: bool = False,
        histogram_round_digits: int = 3,
        groups_to_compute: list[GROUP] | None = None,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(output_folder, groups_to_compute, histogram_round_digits, top_k_config)
        self.ignore_empty_paragraphs = ignore_empty_paragraphs
        self.short_thresholds = short_paragraph_max_chars_threshold or [100]
        self.long_thresholds = long_paragraph_max_chars_threshold or [1000]

    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        # DataTrove drops blank paragraphs before counting, whatever ignore_empty_paragraphs says
        paragraphs = [p for p in doc.text.split("\n\n") if p.strip()]
        n = len(paragraphs)
        lengths = [len(p) for p in paragraphs]
        total = sum(lengths)
        dups, dup_chars = find_duplicates(paragraphs)
        out: dict[str, int | float] = {
            "n_paragraphs": n,
            "avg_paragraph_length": safe_divide(total, n),
        }
        for chars in self.short_thresholds:
            out[f"short_paragraph_ratio_{chars}"] = safe_divide(
                sum(1 for x in lengths if x <= chars), n
            )
        for chars in self.long_thresholds:
            out[f"long_paragraph_ratio_{chars}"] = safe_divide(
                sum(1 for x in lengths if x >= chars), n
            )
        out["paragraph_duplicates"] = safe_divide(dups, n)
        out["paragraph_char_duplicates"] = safe_divide(dup_chars, total)
        return out
