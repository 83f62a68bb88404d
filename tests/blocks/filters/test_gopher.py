"""GopherQualityFilter and GopherRepetitionFilter: every drop reason on a hand-made document."""

from __future__ import annotations

import pytest

from blocks.base import DocumentsSource
from blocks.document import Document
from blocks.filters import GopherQualityFilter, GopherRepetitionFilter
from blocks.filters.gopher_repetition import duplicate_ngram_chars, top_ngram_chars

PROSE = (
    "The history of the town is closely tied to the river, which brought trade and "
    "settlers to the valley. Farmers grew wheat and barley on the fertile plains, and "
    "merchants built warehouses along the banks to store the grain before it was "
    "shipped downstream. Over the centuries the town grew into a regional center with "
    "a market, a school and a hospital that served the surrounding villages."
)


def verdict(
    block: GopherQualityFilter | GopherRepetitionFilter, text: str
) -> bool | tuple[bool, str]:
    return block.filter(Document(text, "x"))


def test_gopher_quality_keeps_prose() -> None:
    assert verdict(GopherQualityFilter(), PROSE) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Too short to be a document, with the few words of it.", "gopher_short_doc"),
        (" ".join(["the cat is on a mat and the dog"] * 10), "gopher_below_avg_threshold"),
        (
            " ".join(["the extraordinarily", "incomprehensible", "and characteristically"] * 20),
            "gopher_above_avg_threshold",
        ),
        (PROSE + " #tag" * 10, "gopher_too_many_hashes"),
        (PROSE + " wait..." * 10, "gopher_too_many_ellipsis"),
        (
            "\n".join(f"- item {i} of the list with the things to do" for i in range(30)),
            "gopher_too_many_bullets",
        ),
        (
            "\n".join(f"and the story goes on, line {i} of many..." for i in range(30)),
            "gopher_too_many_end_ellipsis",
        ),
        (
            PROSE
            + " 123 456 789 1011 1213 1415 1617 1819 2021 2223 2425 2627 2829 3031 3233 3435" * 4,
            "gopher_below_alpha_threshold",
        ),
        (" ".join(["quick brown foxes jump over lazy dogs"] * 10), "gopher_enough_stop_words"),
    ],
)
def test_gopher_quality_reasons(text: str, reason: str) -> None:
    assert verdict(GopherQualityFilter(), text) == (False, reason)


def test_gopher_quality_long_doc_and_disabled_rules() -> None:
    assert verdict(GopherQualityFilter(max_doc_words=60), PROSE) == (False, "gopher_long_doc")
    short = "Just a few words here, that is all."
    assert verdict(GopherQualityFilter(min_doc_words=None, min_stop_words=None), short) is True
    # custom stop words
    assert verdict(GopherQualityFilter(stop_words=["river", "town"]), PROSE) is True
    assert verdict(GopherQualityFilter(stop_words=["zebra"], min_stop_words=1), PROSE) == (
        False,
        "gopher_enough_stop_words",
    )


def test_gopher_quality_empty_document_does_not_crash() -> None:
    block = GopherQualityFilter(
        min_doc_words=None, min_avg_word_length=None, max_avg_word_length=None
    )
    assert verdict(block, "") == (False, "gopher_below_alpha_threshold")


def test_gopher_quality_run_counts_reasons_and_writes_exclusions() -> None:
    excluded: list[Document] = []

    class Sink(DocumentsSource):
        def write_document(self, doc: Document, rank: int = 0) -> None:
            excluded.append(doc)

    block = GopherQualityFilter(exclusion_writer=Sink([]))
    docs = [Document(PROSE, "good"), Document("tiny", "bad")]
    kept = list(block.run(docs))
    assert [d.id for d in kept] == ["good"]
    assert [d.id for d in excluded] == ["bad"]
    assert excluded[0].metadata["filter_reason"] == "gopher_short_doc"
    stats = block.stats.stats
    assert stats["total"].total == 2 and stats["dropped_gopher_short_doc"].total == 1


def test_gopher_repetition_keeps_prose() -> None:
    assert verdict(GopherRepetitionFilter(), PROSE) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (
            "\n\n".join(
                [
                    "Same paragraph here.",
                    "Other one.",
                    "Same paragraph here.",
                    "Same paragraph here.",
                ]
            ),
            "dup_para_frac",
        ),
        ("\n\n".join([PROSE, "One.", "Two.", "Three.", PROSE]), "dup_para_char_frac"),
        ("\n".join(["menu", "home", "menu", "menu", "about us and the team"]), "dup_line_frac"),
        ("\n".join([PROSE, "One.", "Two.", "Three.", PROSE]), "dup_line_char_frac"),
        ("buy now " * 20 + PROSE, "top_2_gram"),
        # the most frequent 2-gram that comes first ("a bb") is short, the 3-gram is not
        ("a bb cccccccccccc " * 10 + PROSE, "top_3_gram"),
        ("one two three four " * 12 + PROSE + " " + PROSE.replace("the", "a"), "top_4_gram"),
    ],
)
def test_gopher_repetition_reasons(text: str, reason: str) -> None:
    assert verdict(GopherRepetitionFilter(), text) == (False, reason)


def test_gopher_repetition_duplicated_ngrams() -> None:
    block = GopherRepetitionFilter(top_n_grams=())
    repeated = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    text = " and then ".join([repeated] * 4) + " " + PROSE
    assert verdict(block, text) == (False, "duplicated_5_n_grams")
    assert verdict(GopherRepetitionFilter(top_n_grams=(), dup_n_grams=((10, 0.05),)), text) == (
        False,
        "duplicated_10_n_grams",
    )


def test_ngram_helpers() -> None:
    words = ["a", "b", "a", "b", "a", "b", "c"]
    assert top_ngram_chars(words, 2) == len("a b") * 3
    assert top_ngram_chars([], 2) == 0
    # "ab" at 0 is new, at 2 a repeat (+2, jump to 4), at 4 a repeat (+2)
    assert duplicate_ngram_chars(words, 2) == 4
    # concatenation without spaces: ("ab","c") and ("a","bc") are the same n-gram
    assert duplicate_ngram_chars(["ab", "c", "a", "bc"], 2) == 3
    assert duplicate_ngram_chars(words, 9) == 0
