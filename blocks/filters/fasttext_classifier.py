"""Keep or drop documents (or their paragraphs/sentences) by a local fastText classifier."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.models import ModelError, load_fasttext

LABEL_PREFIX = "__label__"
FILTER_MODES = ("DOCUMENT", "PARAGRAPH", "SENTENCE")

LabelRule = tuple[str, float]


def _rules(value: Sequence[Any] | None, name: str) -> list[LabelRule]:
    """``("hq", 0.9)`` or ``[("hq", 0.9), ...]`` (lists from YAML too) -> list of pairs."""
    if not value:
        return []
    pairs = [value] if isinstance(value[0], str) else list(value)
    out: list[LabelRule] = []
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ValueError(f"{name} must be (label, min_score) pairs, got {pair!r}")
        out.append((pair[0].removeprefix(LABEL_PREFIX), float(pair[1])))
    return out


class FastTextClassifierFilter(BaseFilter):
    """DataTrove's FastTextClassifierFilter for any local fastText supervised model.

    Each unit (the whole document, each paragraph or each sentence, by ``filter_mode``) is
    scored on every label after ``unit.strip().replace("\\n", newline_replacement)``.
    A unit is kept when one of ``keep_labels`` reaches its minimum score, or when none of
    ``remove_labels`` does (give one of the two, or neither to only annotate). The
    document's text becomes its kept units, and the document is dropped when nothing but
    whitespace is left. ``save_labels_in_metadata`` stores each label's mean score over
    the units as ``metadata["__label__<name>"]``. Stats: ``kept_span``, ``removed_span``.

    ``model_url`` (DataTrove's name) or ``model_path``: a local path, ``file://`` URL or
    fsspec URL; the model is loaded once per process. Unlike DataTrove, unknown labels in
    ``remove_labels`` are refused too, and ``filter_mode`` is case-insensitive.
    """

    name = "FastTextClassifierFilter"
    _requires_dependencies = (("fasttext", "processing"), ("numpy", "processing"))

    def __init__(
        self,
        model_url: str | None = None,
        keep_labels: tuple[str, float] | list[tuple[str, float]] | None = None,
        remove_labels: tuple[str, float] | list[tuple[str, float]] | None = None,
        save_labels_in_metadata: bool = True,
        exclusion_writer: PipelineStep | None = None,
        newline_replacement: str = "",
        filter_mode: str = "DOCUMENT",
        model_path: str | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        if bool(model_url) == bool(model_path):
            raise ValueError("give exactly one of model_url or model_path")
        self.model_url = str(model_url or model_path)
        self.keep_labels = _rules(keep_labels, "keep_labels")
        self.remove_labels = _rules(remove_labels, "remove_labels")
        if self.keep_labels and self.remove_labels:
            raise ValueError("You can only supply one of `keep_labels` or `remove_labels`.")
        mode = filter_mode.upper()
        if mode not in FILTER_MODES:
            raise ValueError(f"filter_mode must be one of {FILTER_MODES}, got {filter_mode!r}")
        self.filter_mode = mode
        self.save_labels_in_metadata = save_labels_in_metadata
        self.newline_replacement = newline_replacement
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            model = load_fasttext(self.model_url)
            available = {label.removeprefix(LABEL_PREFIX) for label in model.labels}
            for label, _ in self.keep_labels + self.remove_labels:
                if label not in available:
                    raise ModelError(
                        f"label {label!r} is not one of the model's labels: {sorted(available)}"
                    )
            self._model = model
        return self._model

    def _units(self, doc: Document) -> list[str]:
        if self.filter_mode == "DOCUMENT":
            return [doc.text]
        from blocks import text

        if self.filter_mode == "PARAGRAPH":
            return text.split_paragraphs(doc.text)
        return text.sentences(doc)

    def _passes(self, scores: dict[str, float]) -> bool:
        if self.keep_labels:
            return any(
                scores.get(LABEL_PREFIX + label, -9e9) >= low for label, low in self.keep_labels
            )
        return not any(
            scores.get(LABEL_PREFIX + label, -9e9) >= low for label, low in self.remove_labels
        )

    def filter(self, doc: Document) -> bool:
        import numpy as np

        model = self.model
        kept: list[str] = []
        per_label: defaultdict[str, list[float]] = defaultdict(list)
        for unit in self._units(doc):
            line = unit.strip().replace("\n", self.newline_replacement)
            try:
                labels, probs = model.predict(line, k=-1)
            except UnicodeEncodeError:  # lone surrogates from a lossy decode upstream
                line = line.encode("utf-8", "replace").decode("utf-8")
                labels, probs = model.predict(line, k=-1)
            scores = dict(zip(labels, (float(p) for p in probs), strict=True))
            if self.save_labels_in_metadata:
                for label, score in scores.items():
                    per_label[label].append(score)
            if self._passes(scores):
                kept.append(unit)
                self.stat_update("kept_span")
            else:
                self.stat_update("removed_span")
        new_text = "".join(kept)
        if new_text != doc.text:
            doc.text = new_text
            doc.cache.clear()
        if self.save_labels_in_metadata:
            doc.metadata.update({k: float(np.mean(v)) for k, v in per_label.items()})
        return bool(doc.text.strip())
