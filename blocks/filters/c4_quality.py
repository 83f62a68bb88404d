"""C4's line- and document-level cleaning rules (Raffel et al. 2020, section 2.2)."""

from __future__ import annotations

import re

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.text import count_sentences, sentences

CITATION_REGEX = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)


class C4QualityFilter(BaseFilter):
    """Keep only the good lines of a document, and drop the document if too few remain.

    Line rules (each can be turned off): drop lines with a word longer than
    ``max_word_length``, lines not ending in terminal punctuation (or ending in "..."),
    lines with fewer than ``min_words_per_line`` words, lines mentioning "javascript" and
    lines with cookie / terms-of-use phrases; Wikipedia citations ("[1]", "[edit]") are cut.
    Document rules: "lorem ipsum" (``lorem_ipsum``) or a "{" (``curly_bracket``) drops the
    document, and fewer than ``min_num_sentences`` sentences in the kept lines
    (``too_few_sentences``). A kept document's text becomes its kept lines, which is why
    this filter changes ``doc.text``. Lines are split on line breaks
    (``split_paragraph=True``, as C4) or into sentences. Per-line outcomes are counted
    under ``line-*`` stats, as in DataTrove.
    """

    name = "C4QualityFilter"

    def __init__(
        self,
        exclusion_writer: PipelineStep | None = None,
        split_paragraph: bool = True,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_num_sentences: int = 5,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_lorem_ipsum: bool = True,
        filter_javascript: bool = True,
        filter_curly_bracket: bool = True,
        filter_policy: bool = True,
        language: str = "en",
    ) -> None:
        super().__init__(exclusion_writer)
        self.split_paragraph = split_paragraph
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_num_sentences = min_num_sentences
        self.min_words_per_line = min_words_per_line
        self.max_word_length = max_word_length
        self.filter_lorem_ipsum = filter_lorem_ipsum
        self.filter_javascript = filter_javascript
        self.filter_curly_bracket = filter_curly_bracket
        self.filter_policy = filter_policy
        self.language = language

    def _count_lines(self, counts: dict[str, int]) -> None:
        for label, value in counts.items():
            if value:
                self.stat_update(label, value=value)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        lines = doc.text.splitlines() if self.split_paragraph else sentences(doc, self.language)
        counts = dict.fromkeys(
            (
                "line-total",
                "line-filter-too_long_word",
                "line-filter-no_terminal_punc",
                "line-filter-too_few_words",
                "line-filter-javascript",
                "line-filter-policy",
                "line-kept",
            ),
            0,
        )
        num_sentences = 0
        kept: list[str] = []
        verdict: bool | tuple[bool, str] = True
        for raw in lines:
            line = raw.strip()
            line_words = line.split()
            counts["line-total"] += 1
            if self.max_word_length != -1 and any(
                len(w) > self.max_word_length for w in line_words
            ):
                counts["line-filter-too_long_word"] += 1
                continue
            if self.remove_citations and "[" in line:
                line = CITATION_REGEX.sub("", line)
            if self.filter_no_terminal_punct and (
                not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)
            ):
                counts["line-filter-no_terminal_punc"] += 1
                continue
            if len(line_words) < self.min_words_per_line:
                counts["line-filter-too_few_words"] += 1
                continue
            lowered = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lowered:
                verdict = (False, "lorem_ipsum")
                break
            if self.filter_javascript and "javascript" in lowered:
                counts["line-filter-javascript"] += 1
                continue
            if self.filter_curly_bracket and "{" in line:
                verdict = (False, "curly_bracket")
                break
            if self.filter_policy and any(p in lowered for p in POLICY_SUBSTRINGS):
                counts["line-filter-policy"] += 1
                continue
            if self.min_num_sentences != -1:
                num_sentences += count_sentences(line, self.language) if self.split_paragraph else 1
            kept.append(line)
            counts["line-kept"] += 1
        self._count_lines(counts)
        if verdict is not True:
            return verdict
        if num_sentences < self.min_num_sentences:
            return False, "too_few_sentences"
        doc.text = ("\n" if self.split_paragraph else " ").join(kept).strip()
        return True
