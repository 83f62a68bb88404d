"""NgramStats (numpy) gives exactly what the plain-Python n-gram measures give."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.filters.ngram_stats import NgramStats, duplicate_ngram_chars, top_ngram_chars

# few, short, overlapping words: many repeats, ties, and glued collisions ("ab"+"c" == "a"+"bc")
WORDS = st.lists(
    st.sampled_from(["a", "b", "ab", "ba", "c", "bc", "abc", "é", "日本", "x" * 7]),
    min_size=0,
    max_size=400,
)


def _reference(tokens: list[str]) -> list[int]:
    return [top_ngram_chars(tokens, n) for n in (1, 2, 3, 4)] + [
        duplicate_ngram_chars(tokens, n) for n in (5, 6, 7, 8, 9, 10)
    ]


def _vectorized(tokens: list[str]) -> list[int]:
    stats = NgramStats(tokens)
    return [stats.top_chars(n) for n in (1, 2, 3, 4)] + [
        stats.duplicate_chars(n) for n in (5, 6, 7, 8, 9, 10)
    ]


@settings(max_examples=150, deadline=None)
@given(WORDS)
def test_vectorized_equals_plain_python(tokens: list[str]) -> None:
    assert _vectorized(tokens) == _reference(tokens)


def test_rules_in_any_order_and_long_documents() -> None:
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(30)] + ["ab", "a", "b", "c", "bc"]
    tokens = [rng.choice(vocab) for _ in range(5000)] + ["x", "y", "z"] * 300
    stats = NgramStats(tokens)
    assert [stats.duplicate_chars(n) for n in (9, 5, 7)] == [
        duplicate_ngram_chars(tokens, n) for n in (9, 5, 7)
    ]
    assert [stats.top_chars(n) for n in (4, 2)] == [top_ngram_chars(tokens, n) for n in (4, 2)]
    assert NgramStats(tokens[:10]).duplicate_chars(20) == 0
    assert NgramStats([]).top_chars(2) == 0
