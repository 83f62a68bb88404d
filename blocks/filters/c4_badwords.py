"""C4's bad-words rule: drop pages that contain a word of a bad-words list."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document

# Languages written without spaces: words match anywhere, not only between non-word chars.
NO_SPACE_LANGUAGES = frozenset(("ja", "th", "zh"))
# Common sub-words of languages without spaces, allowed in every list (as C4 does).
BADWORDS_ALLOWLIST = frozenset(("sm", "\u30b0\u30ed", "\u5973\u306e\u5b50", "\u6027"))

BadWords = str | Iterable[str]


def read_word_list(path: str) -> list[str]:
    """One entry per line from a local path or any fsspec URL; blank lines are skipped."""
    import fsspec

    with fsspec.open(path, "rt", encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip()]


def _load(source: BadWords) -> list[str]:
    if isinstance(source, str):
        return read_word_list(source)
    return [w.strip() for w in source if w.strip()]


class C4BadWordsFilter(BaseFilter):
    """Drop documents containing a bad word of their language (``metadata["language"]``).

    DataTrove downloads the LDNOOBW lists at run time; shardyard never touches the network
    from a block, so the lists are given: ``badwords`` is a list of words (for
    ``default_language``), a path or URL of a one-word-per-line file, or a mapping
    ``{language: list or path}``. Matching is on the lowercased text, on word boundaries
    except for ja/th/zh. ``keep_fraction`` keeps that share of the matching documents at
    random (``seed`` makes it repeatable). A language without a list raises, or with
    ``fail_on_missing_language=False`` passes the document and counts
    ``missing_badwords_lang_<lang>``. Reason: ``document_removed_with_badwords``.
    """

    name = "C4BadWordsFilter"
    _requires_dependencies = (("numpy", "processing"),)

    def __init__(
        self,
        keep_fraction: float = 0.0,
        fail_on_missing_language: bool = True,
        seed: int | None = None,
        default_language: str = "en",
        exclusion_writer: PipelineStep | None = None,
        badwords: str | list[str] | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        if badwords is None or (not isinstance(badwords, str) and not badwords):
            raise ValueError(
                "C4BadWordsFilter needs bad-words lists (shardyard downloads nothing): pass "
                "badwords=[...words...], badwords='path/or/url/en.txt', or "
                "badwords={'en': 'path/en.txt', 'fr': [...]}"
            )
        if not 0.0 <= keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must be within [0, 1], got {keep_fraction}")
        self.keep_fraction = keep_fraction
        self.fail_on_missing_language = fail_on_missing_language
        self.seed = seed
        self.default_language = default_language
        sources: Mapping[str, BadWords] = (
            badwords if isinstance(badwords, Mapping) else {default_language: badwords}
        )
        self._sources = dict(sources)
        self._regex: dict[str, re.Pattern[str] | None] = {}
        self._uniform: Any = None

    def _badwords_regex(self, lang: str) -> re.Pattern[str] | None:
        if lang in self._regex:
            return self._regex[lang]
        source = self._sources.get(lang)
        if source is None:
            if self.fail_on_missing_language:
                raise ValueError(
                    f'There is no badwords list for "{lang}": add it to badwords= or set '
                    "fail_on_missing_language=False to continue anyway."
                )
            self._regex[lang] = None
            return None
        words = sorted(set(_load(source)) - BADWORDS_ALLOWLIST)
        alternation = "|".join(re.escape(w) for w in words)
        pattern: re.Pattern[str] | None = None
        if words:
            pattern = (
                re.compile(alternation)
                if lang in NO_SPACE_LANGUAGES
                else re.compile(rf"(?:\W|^)({alternation})(?:\W|$)")
            )
        self._regex[lang] = pattern
        return pattern

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        lang: str = doc.metadata.get("language", self.default_language)
        regex = self._badwords_regex(lang)
        if regex is None:
            if lang not in self._sources:
                self.stat_update("missing_badwords_lang", f"missing_badwords_lang_{lang}")
            return True
        if regex.search(doc.text.lower()) is None:
            return True
        self.stat_update("documents_with_badwords", f"documents_with_badwords_{lang}")
        if self.keep_fraction > 0.0:
            if self._uniform is None:
                from numpy.random import default_rng

                self._uniform = default_rng(self.seed).uniform
            if self._uniform() < self.keep_fraction:
                self.stat_update(
                    "document_kept_with_badwords", f"document_kept_with_badwords_{lang}"
                )
                return True
        self.stat_update(f"document_removed_with_badwords_{lang}")
        return False, "document_removed_with_badwords"
