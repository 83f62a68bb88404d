"""blocks/text.py: spaCy-identical word and sentence splitting, normalization, the doc cache."""

from __future__ import annotations

import pytest

from blocks.document import Document
from blocks.text import (
    PUNCTUATION_SET,
    TERMINAL_PUNCTUATION,
    count_sentences,
    doc_cached,
    get_tokenizer,
    sentence_ends,
    sentences,
    simplify_text,
    split_paragraphs,
    split_sentences,
    split_words,
    words,
)

# (text, words, sentences) as DataTrove 0.10.1 (spaCy 3.8 blank 'en' + sentencizer) gives them
SPACY_CASES = [
    (
        "Hello, world! I can't believe it's (really) 3.5km away...",
        [
            "Hello",
            ",",
            "world",
            "!",
            "I",
            "ca",
            "n't",
            "believe",
            "it",
            "'s",
            "(",
            "really",
            ")",
            "3.5",
            "km",
            "away",
            "...",
        ],
        ["Hello, world!", " I can't believe it's (really) 3.5km away..."],
    ),
    (
        "Mr. Smith's U.S. home-made e-mail: http://x.com/a?b=c. Don't.",
        [
            "Mr.",
            "Smith",
            "'s",
            "U.S.",
            "home",
            "-",
            "made",
            "e",
            "-",
            "mail",
            ":",
            "http://x.com/a?b=c",
            ".",
            "Do",
            "n't",
            ".",
        ],
        ["Mr. Smith's U.S. home-made e-mail: http://x.com/a?b=c.", " Don't."],
    ),
    (
        'She said "hi." Then left :) at 10am; cost $40 or 100% (approx.) -- end.',
        [
            "She",
            "said",
            '"',
            "hi",
            ".",
            '"',
            "Then",
            "left",
            ":)",
            "at",
            "10",
            "am",
            ";",
            "cost",
            "$",
            "40",
            "or",
            "100",
            "%",
            "(",
            "approx",
            ".",
            ")",
            "--",
            "end",
            ".",
        ],
        ['She said "hi."', " Then left :) at 10am; cost $40 or 100% (approx.) --", " end."],
    ),
    (
        "well-known 5-4 A.B.C. e.g. etc. vs. 2+2=4 o'clock y'all gonna",
        [
            "well",
            "-",
            "known",
            "5",
            "-",
            "4",
            "A.B.C.",
            "e.g.",
            "etc",
            ".",
            "vs.",
            "2",
            "+",
            "2=4",
            "o'clock",
            "y'",
            "all",
            "gon",
            "na",
        ],
        ["well-known 5-4 A.B.C. e.g. etc.", " vs. 2+2=4 o'clock y'all gonna"],
    ),
    (
        "(z.) Sept. Dr. Who? Yes!! No?! 'quoted' ‘curly’ “double” — dash",
        [
            "(",
            "z.",
            ")",
            "Sept.",
            "Dr.",
            "Who",
            "?",
            "Yes",
            "!",
            "!",
            "No",
            "?",
            "!",
            "'",
            "quoted",
            "'",
            "‘",
            "curly",
            "’",
            "“",
            "double",
            "”",
            "—",
            "dash",
        ],
        ["(z.) Sept. Dr. Who?", " Yes!!", " No?! '", "quoted' ‘curly’ “double” — dash"],
    ),
    (
        "naïve café déjà-vu ŁÓDŹ Straße ΑΘΗΝΑ москва",
        ["naïve", "café", "déjà", "-", "vu", "ŁÓDŹ", "Straße", "ΑΘΗΝΑ", "москва"],
        ["naïve café déjà-vu ŁÓDŹ Straße ΑΘΗΝΑ москва"],
    ),
    (
        "www.example.com/path?q=1, user@mail.com and 192.168.0.1.",
        ["www.example.com/path?q=1", ",", "user@mail.com", "and", "192.168.0.1", "."],
        ["www.example.com/path?q=1, user@mail.com and 192.168.0.1."],
    ),
    (
        "end.The start,then; a/b c:d 1990s '90s #hashtag @user 🙂 ★",
        [
            "end",
            ".",
            "The",
            "start",
            ",",
            "then",
            ";",
            "a",
            "/",
            "b",
            "c",
            ":",
            "d",
            "1990s",
            "'",
            "90s",
            "#",
            "hashtag",
            "@user",
            "🙂",
            "★",
        ],
        ["end.", "The start,then; a/b c:d 1990s '90s #hashtag @user 🙂 ★"],
    ),
]


@pytest.mark.parametrize(("text", "expected_words", "expected_sentences"), SPACY_CASES)
def test_words_and_sentences_match_spacy(
    text: str, expected_words: list[str], expected_sentences: list[str]
) -> None:
    assert split_words(text) == expected_words
    assert split_sentences(text) == expected_sentences
    assert count_sentences(text) == len(expected_sentences)


@pytest.mark.parametrize(
    ("chunk", "tokens"),
    [
        ("don't", ("do", "n't")),
        ("Can't've", ("Ca", "n't", "'ve")),
        ("dont", ("do", "nt")),
        ("well", ("well",)),  # "we'll" without its apostrophe is a word, not a contraction
        ("its", ("its",)),
        ("cannot", ("can", "not")),
        ("I'ma", ("I", "'m", "a")),
        ("10pm", ("10", "pm")),
        ("5kg.", ("5", "kg", ".")),
        ("(Ph.D.)", ("(", "Ph.D.", ")")),
        ("):", ("):",)),  # an emoticon re-joined after the affixes were split
        ("word...", ("word", "...")),
        ("US$5", ("US$", "5")),
        ("+5", ("+5",)),
        ("+x", ("+", "x")),
        ("a--b", ("a", "--", "b")),
        ("http://example.com/a-b,c", ("http://example.com/a-b,c",)),
        ("SHOUT.Next", ("SHOUT.Next",)),  # "." splits only after a lowercase letter
        ("lower.Upper", ("lower", ".", "Upper")),
    ],
)
def test_chunk_rules(chunk: str, tokens: tuple[str, ...]) -> None:
    assert get_tokenizer("en").chunk_tokens(chunk) == tokens


def test_non_english_has_no_english_contractions() -> None:
    assert split_words("don't stop", "fr") == ["don't", "stop"]
    assert split_words("don't stop", "en") == ["do", "n't", "stop"]


def test_whitespace_is_dropped_from_words_but_counts_for_sentences() -> None:
    assert split_words("a\tb\n\nc  d") == ["a", "b", "c", "d"]
    # a whitespace token after "." is not punctuation, so it starts the next sentence
    assert split_sentences("One. \n. Two") == ["One.", " \n.", " Two"]
    assert count_sentences("One.  . Two") == 3
    assert count_sentences("One. . Two") == 2
    assert sentence_ends("") == []
    assert split_sentences("") == [""]
    assert count_sentences("") == 1


def test_paragraphs_keep_blank_lines_with_the_previous_line() -> None:
    assert split_paragraphs("a\n\n  \nb\nc\n\n") == ["a\n\n  \n", "b\n", "c\n"]
    assert split_paragraphs("") == []


def test_simplify_text_like_datatrove() -> None:
    text = "  Hello, WORLD!  Café costs 3,50 € on Monday\n\tnaïve—really? 12.5%"
    assert simplify_text(text) == "hello world cafe costs 0 € on monday naive really 0"


def test_punctuation_sets() -> None:
    # DataTrove 0.10.1's sets: 159 sentence terminals (Unicode 15 STerm), 281 symbols
    assert len(TERMINAL_PUNCTUATION) == 159
    assert len(PUNCTUATION_SET) == 281
    assert {".", "!", "?", "。", "؟", "।"} <= TERMINAL_PUNCTUATION
    assert {",", ";", ":"}.isdisjoint(TERMINAL_PUNCTUATION)
    assert {"\t", "\n"}.isdisjoint(PUNCTUATION_SET) and "\r" in PUNCTUATION_SET


def test_words_are_computed_once_per_text_and_recomputed_after_a_change() -> None:
    doc = Document("Hello there, world.", "d")
    first = words(doc)
    assert first == ["Hello", "there", ",", "world", "."]
    assert words(doc) is first  # cached
    doc.text = "Another text"
    assert words(doc) == ["Another", "text"]
    assert sentences(doc) == ["Another text"]
    calls: list[str] = []

    def compute(text: str) -> int:
        calls.append(text)
        return len(text)

    assert doc_cached(doc, "n", compute) == 12
    assert doc_cached(doc, "n", compute) == 12
    doc.text = doc.text + "!"
    assert doc_cached(doc, "n", compute) == 13
    assert calls == ["Another text", "Another text!"]


def test_chunk_cache_is_bounded() -> None:
    tok = get_tokenizer("en")
    tok_type = type(tok)
    small = tok_type(dict(tok.specials))
    small.max_cache = len(small.specials) + 3
    for i in range(10):
        assert small.chunk_tokens(f"w{i}.") == (f"w{i}", ".")
    assert len(small._cache) <= small.max_cache


def test_long_chunks_are_split_like_short_ones() -> None:
    n = 5000
    assert split_words("(" * n + "word" + ")" * n) == ["("] * n + ["word"] + [")"] * n
    assert split_words("a:" * 3000) == ["a", ":"] * 3000
    assert split_words("http://example.com/a/b") == ["http://example.com/a/b"]
    # beyond 2048 characters a chunk is never taken for a URL (the pattern would backtrack)
    assert len(split_words("http://example.com/" + "ab/cd" * 500)) > 1


def test_random_tricky_strings_split_as_datatrove_does() -> None:
    """3000 random strings of punctuation, contractions, URLs, units and scripts, split by
    DataTrove 0.10.1 (spaCy) once: words and sentence lengths must be identical."""
    import json
    from pathlib import Path

    from bench.record_datatrove_decisions import tokenizer_fuzz_texts

    path = (
        Path(__file__).resolve().parents[1] / "fixtures" / "datatrove" / "decisions_tokenizer.json"
    )
    expected = json.loads(path.read_text(encoding="utf-8"))
    texts = tokenizer_fuzz_texts()
    assert len(expected) == len(texts)
    wrong = []
    for i, text in enumerate(texts):
        want_words, want_sentences = expected[f"{i:05d}"]
        if (
            split_words(text) != want_words
            or [len(s) for s in split_sentences(text)] != want_sentences
        ):
            wrong.append(text)
    assert wrong == []
