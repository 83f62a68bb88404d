"""Line-level metrics (DataTrove's ``LineStats``)."""

from __future__ import annotations

from typing import Any

from blocks.document import Document
from blocks.filters.gopher_repetition import find_duplicates
from blocks.stats.base import GROUP, BaseStats, TopKConfig, safe_divide

END_PUNCTUATION = (".", "?", "!", '"', "'")


def is_bullet_line(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and stripped[0] in "-*•"


class LineStats(BaseStats):
    """Line count, mean length, short/long line ratios, terminal punctuation, bullets, duplicates."""

    name = "LineStats"

    def __init__(
        self,
        output_folder: Any,
        max_k_chars_per_line_tresholds: list[int] | None = None,
        min_k_chars_per_line_thresholds: list[int] | None = None,
        groups_to_compute: list[GROUP] | None = None,
        ignore_empty_lines: bool = False,
        histogram_round_digits: int = 3,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(output_folder, groups_to_compute, histogram_round_digits, top_k_config)
        self.short_max_chars = (
            max_k_chars_per_line_tresholds
            if max_k_chars_per_line_tresholds is not None
            else [10, 30]
        )
        self.long_min_chars = (
            min_k_chars_per_line_thresholds
            if min_k_chars_per_line_thresholds is not None
            else [2000, 10000]
        )
        self.ignore_empty_lines = ignore_empty_lines

    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        lines: list[str] = doc.metadata.get("lines") or doc.text.split("\n")
        n_lines = len(lines)  # empty lines always count here, as in DataTrove
        if self.ignore_empty_lines:
            lines = [line for line in lines if line.strip()]
        n = len(lines)
        lengths = [len(line) for line in lines]
        total_chars = sum(lengths)
        dup_lines, dup_chars = find_duplicates(lines)
        out: dict[str, int | float] = {
            "n_lines": n_lines,
            "avg_line_length": safe_divide(total_chars, n),
        }
        for chars in self.short_max_chars:
            out[f"short_line_ratio_chars_{chars}"] = safe_divide(
                sum(1 for x in lengths if x <= chars), n
            )
        for chars in self.long_min_chars:
            out[f"long_line_ratio_chars_{chars}"] = safe_divide(
                sum(1 for x in lengths if x >= chars), n
            )
        out["lines_ending_with_terminal_mark_ratio"] = safe_divide(
            sum(1 for line in lines if line.endswith(END_PUNCTUATION)), n
        )
        out["bullet_point_lines_ratio"] = safe_divide(
            sum(1 for line in lines if is_bullet_line(line)), n
        )
        out["line_duplicates"] = safe_divide(dup_lines, n)
        out["line_char_duplicates"] = safe_divide(dup_chars, total_chars)
        return out
