"""C4QualityFilter, C4ParagraphFilter and C4BadWordsFilter on hand-made documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from blocks.document import Document
from blocks.filters import C4BadWordsFilter, C4ParagraphFilter, C4QualityFilter

GOOD_LINES = [
    "The committee met on Tuesday to discuss the new budget.",
    "Members agreed that the school needs a larger library.",
    "A vote on the proposal is expected next month.",
    "Residents can send their comments to the town hall.",
    "The meeting ended shortly after nine in the evening.",
]


def test_c4_quality_keeps_good_lines_and_rewrites_the_text() -> None:
    noisy = [
        "Home | About | Contact",  # no terminal punctuation
        "Click here.",  # too few words
        "Please enable JavaScript to view the comments.",  # javascript
        "This site uses cookies to improve your experience.",  # policy
        "A line with a " + "x" * 1001 + " word.",  # too long word
        *GOOD_LINES[:2],
        "The vote was unanimous.[1] It passed easily.[citation needed]",
        *GOOD_LINES[2:],
    ]
    doc = Document("\n".join(noisy), "d")
    block = C4QualityFilter()
    assert block.filter(doc) is True
    kept = doc.text.split("\n")
    assert kept == [*GOOD_LINES[:2], "The vote was unanimous. It passed easily.", *GOOD_LINES[2:]]
    stats = block.stats.stats
    assert stats["line-total"].total == len(noisy)
    assert stats["line-filter-no_terminal_punc"].total == 1
    assert stats["line-filter-too_few_words"].total == 1
    assert stats["line-filter-javascript"].total == 1
    assert stats["line-filter-policy"].total == 1
    assert stats["line-filter-too_long_word"].total == 1
    assert stats["line-kept"].total == 6


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (GOOD_LINES[:3], "too_few_sentences"),
        ([*GOOD_LINES, "Lorem ipsum dolor sit amet, consectetur."], "lorem_ipsum"),
        ([*GOOD_LINES, "The function body is { return x; }."], "curly_bracket"),
    ],
)
def test_c4_quality_reasons(lines: list[str], reason: str) -> None:
    assert C4QualityFilter().filter(Document("\n".join(lines), "d")) == (False, reason)


def test_c4_quality_counts_sentences_inside_lines() -> None:
    one_line = " ".join(GOOD_LINES)  # five sentences on one line
    assert C4QualityFilter().filter(Document(one_line, "d")) is True
    # "Mr." does not end a sentence: four sentences only
    four = "Mr. Smith came home. He ate. He slept well. Then he left again."
    assert C4QualityFilter().filter(Document(four, "d")) == (False, "too_few_sentences")


def test_c4_quality_options() -> None:
    no_punct = "\n".join(line.rstrip(".") for line in GOOD_LINES)
    assert C4QualityFilter().filter(Document(no_punct, "d")) == (False, "too_few_sentences")
    assert C4QualityFilter(filter_no_terminal_punct=False).filter(Document(no_punct, "d")) is True
    # -1 turns the sentence minimum off; too-short lines still go
    assert (
        C4QualityFilter(min_num_sentences=-1).filter(Document("One short line here.", "d")) is True
    )
    assert C4QualityFilter().filter(Document("One short line here.", "d")) == (
        False,
        "too_few_sentences",
    )
    doc = Document(" ".join(GOOD_LINES), "d")
    assert C4QualityFilter(split_paragraph=False).filter(doc) is True
    assert doc.text == " ".join(GOOD_LINES)
    js = Document("\n".join([*GOOD_LINES, "Our javascript widget is great."]), "d")
    assert C4QualityFilter(filter_javascript=False).filter(js) is True
    assert "javascript" in js.text


def test_c4_paragraph() -> None:
    long_line = "word " * 50
    assert C4ParagraphFilter().filter(Document("\n".join([long_line] * 3), "d")) is True
    assert C4ParagraphFilter().filter(Document("\n".join([long_line] * 2), "d")) == (
        False,
        "< 3 paragraphs",
    )
    short = "\n".join([long_line, long_line, "short", "lines"])
    assert C4ParagraphFilter().filter(Document(short, "d")) == (False, "< 3 paragraphs")


def test_c4_badwords_inline_list_and_word_boundaries() -> None:
    block = C4BadWordsFilter(badwords=["darn", "heck"])
    assert block.filter(Document("What the HECK is this?", "d")) == (
        False,
        "document_removed_with_badwords",
    )
    assert block.filter(Document("Darn.", "d")) == (False, "document_removed_with_badwords")
    assert block.filter(Document("Checking the darning needle.", "d")) is True
    assert block.stats.stats["document_removed_with_badwords_en"].total == 2


def test_c4_badwords_files_per_language_and_missing_language(tmp_path: Path) -> None:
    fr = tmp_path / "fr.txt"
    fr.write_text("zut\n\nflute\n", encoding="utf-8")
    block = C4BadWordsFilter(
        badwords={"fr": str(fr), "ja": ["グロ", "悪い"]}, default_language="fr"
    )
    assert block.filter(Document("Oh zut alors", "d")) == (False, "document_removed_with_badwords")
    assert block.filter(Document("Bonjour", "d")) is True
    # no word boundaries in Japanese; the C4 allow-list keeps "グロ"
    assert block.filter(Document("これは悪いです", "d", {"language": "ja"})) == (
        False,
        "document_removed_with_badwords",
    )
    assert block.filter(Document("グロい", "d", {"language": "ja"})) is True
    with pytest.raises(ValueError, match="no badwords list"):
        block.filter(Document("hello", "d", {"language": "en"}))
    lenient = C4BadWordsFilter(badwords={"fr": ["zut"]}, fail_on_missing_language=False)
    assert lenient.filter(Document("hello", "d", {"language": "de"})) is True
    assert lenient.stats.stats["missing_badwords_lang_de"].total == 1


def test_c4_badwords_keep_fraction_is_seeded() -> None:
    docs = [Document(f"text {i} with darn in it", str(i)) for i in range(200)]

    def kept(seed: int) -> list[str]:
        block = C4BadWordsFilter(badwords=["darn"], keep_fraction=0.3, seed=seed)
        return [d.id for d in docs if block.filter(d) is True]

    first = kept(7)
    assert first == kept(7)
    assert 30 < len(first) < 90


def test_c4_badwords_needs_a_list() -> None:
    with pytest.raises(ValueError, match="needs bad-words lists"):
        C4BadWordsFilter()
    with pytest.raises(ValueError, match="keep_fraction"):
        C4BadWordsFilter(badwords=["x"], keep_fraction=2)
