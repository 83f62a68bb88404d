"""Token count of each document (DataTrove's ``TokenStats``)."""

from __future__ import annotations

from typing import Any

from blocks.document import Document
from blocks.models import load_tokenizer
from blocks.stats.base import GROUP, BaseStats, TopKConfig


class TokenStats(BaseStats):
    """``token_count`` with a local ``tokenizer.json``; reuses ``metadata["token_count"]``
    when a TokensCounter upstream already counted."""

    name = "TokenStats"
    _requires_dependencies = (*BaseStats._requires_dependencies, ("tokenizers", "tokens"))

    def __init__(
        self,
        output_folder: Any,
        tokenizer_name_or_path: str,
        groups_to_compute: list[GROUP] | None = None,
        histogram_round_digits: int = 3,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(output_folder, groups_to_compute, histogram_round_digits, top_k_config)
        self.tokenizer_name_or_path = tokenizer_name_or_path
        self._tokenizer: Any = None

    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        count = doc.metadata.get("token_count")
        if count is None:
            if self._tokenizer is None:
                self._tokenizer = load_tokenizer(self.tokenizer_name_or_path)
            count = len(self._tokenizer.encode(doc.text).ids)
        return {"token_count": int(count)}
