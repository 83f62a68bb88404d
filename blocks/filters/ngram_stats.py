"""N-gram repetition statistics for GopherRepetitionFilter, exact and fast.

Two measures, with DataTrove's exact semantics:

* ``top_chars(n)``: characters of the most frequent n-gram (words joined by one space)
  times its count; among equally frequent n-grams the first to appear counts.
* ``duplicate_chars(n)``: scanning left to right, an n-gram (words glued *without*
  spaces, so ("ab", "c") and ("a", "bc") are the same) that was seen before adds its
  length and the scan jumps past it.

Short documents use plain Python over strings and tuples. Longer ones use numpy: word
n-grams become integer keys (dense word ids, then ranks of the (n-1)-grams), and glued
n-grams are compared through a polynomial hash of their characters; hash matches are
only candidates, every repeat is confirmed on the real strings, so the result is exact.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Sequence
from itertools import compress
from typing import Any

_VECTOR_MIN_WORDS = 64
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)
_LEN_MIX = 0xC2B2AE3D27D4EB4F


def _grams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def top_ngram_chars(tokens: Sequence[str], n: int) -> int:
    """Characters covered by the most frequent n-gram (words joined by one space) times its count.

    Among equally frequent n-grams the first to appear counts, as with ``Counter.most_common``.
    """
    counts = Counter(_grams(tokens, n))
    if not counts:
        return 0
    gram, count = max(counts.items(), key=operator.itemgetter(1))
    return (sum(map(len, gram)) + n - 1) * count


def joined_ngrams(tokens: Sequence[str], n: int, shorter: list[str] | None = None) -> list[str]:
    """The n-grams of ``tokens`` glued without spaces; ``shorter``, when given, must be
    the (n-1)-grams of the same tokens, which saves re-joining every word."""
    if shorter is not None and n > 1:
        return list(map(operator.add, shorter[: len(tokens) - n + 1], tokens[n - 1 :]))
    return list(map("".join, _grams(tokens, n)))


def duplicate_ngram_chars(tokens: Sequence[str], n: int, grams: list[str] | None = None) -> int:
    """Characters of n-grams (words glued without spaces) that repeat an earlier one.

    Scanning left to right, an n-gram already seen adds its length and the scan jumps past
    it (so overlapping repeats are not counted twice). Only n-grams that occur at least
    twice can ever be "already seen", so the scan visits just their positions.
    """
    if grams is None:
        grams = joined_ngrams(tokens, n)
    if len(set(grams)) == len(grams):
        return 0
    counts = Counter(grams)
    repeated = set(compress(counts.keys(), map((1).__lt__, counts.values())))
    positions = compress(range(len(grams)), map(repeated.__contains__, grams))
    seen: set[str] = set()
    total = 0
    next_free = 0
    for idx in positions:
        if idx < next_free:
            continue
        gram = grams[idx]
        if gram in seen:
            total += len(gram)
            next_free = idx + n
        else:
            seen.add(gram)
    return total


class _Vocab(dict[str, int]):
    """Dense ids for the words of one document, assigned on first sight."""

    def __missing__(self, word: str) -> int:
        value = self[word] = len(self)
        return value


class NgramStats:
    """Both repetition measures for one document's words, sharing intermediate results."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = tokens
        self._np: Any = None
        if len(tokens) >= _VECTOR_MIN_WORDS:
            try:
                import numpy

                self._np = numpy
            except ImportError:  # plain Python is exact too, only slower
                self._np = None
        self._joined: dict[int, list[str]] = {}
        self._ranks: dict[int, Any] = {}
        self._ids: Any = None
        self._bounds: Any = None
        self._prefix: Any = None

    # -- top n-grams ----------------------------------------------------------------
    def top_chars(self, n: int) -> int:
        if self._np is None or n < 1:
            return top_ngram_chars(self.tokens, n)
        np = self._np
        keys = self._tuple_keys(n)
        if keys is None or not len(keys):
            return 0
        _, first, inverse, counts = np.unique(
            keys, return_index=True, return_inverse=True, return_counts=True
        )
        self._ranks[n] = inverse.reshape(-1)
        top = counts.max()
        start = int(first[counts == top].min())
        bounds = self._word_bounds()
        return (int(bounds[start + n] - bounds[start]) + n - 1) * int(top)

    def _tuple_keys(self, n: int) -> Any:
        np = self._np
        count = len(self.tokens) - n + 1
        if count <= 0:
            return None
        if self._ids is None:
            vocab = _Vocab()
            self._ids = np.fromiter(
                map(vocab.__getitem__, self.tokens), dtype=np.int64, count=len(self.tokens)
            )
            self._vocab_size = max(len(vocab), 1)
        ids = self._ids
        if n == 1:
            return ids
        shorter = self._ranks.get(n - 1)
        if shorter is None:
            shorter = self._tuple_keys(n - 1)
            shorter = np.unique(shorter, return_inverse=True)[1].reshape(-1)
            self._ranks[n - 1] = shorter
        # (rank of the (n-1)-gram, id of the last word): unique per distinct n-gram
        return shorter[:count] * self._vocab_size + ids[n - 1 :]

    # -- duplicated n-grams -------------------------------------------------------------
    def duplicate_chars(self, n: int) -> int:
        if self._np is None or n < 1:
            grams = joined_ngrams(self.tokens, n, self._joined.get(n - 1))
            self._joined = {n: grams}
            return duplicate_ngram_chars(self.tokens, n, grams)
        np = self._np
        count = len(self.tokens) - n + 1
        if count <= 0:
            return 0
        bounds = self._word_bounds()
        prefix, inv_powers = self._char_hashes()
        a, b = bounds[:count], bounds[n:]
        with np.errstate(over="ignore"):
            keys = (prefix[b] - prefix[a]) * inv_powers[a]
            keys ^= (b - a).astype(np.uint64) * np.uint64(_LEN_MIX)
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            return 0
        flagged = np.zeros(count, dtype=bool)
        flagged[1:] |= same
        flagged[:-1] |= same
        candidates = np.sort(order[flagged]).tolist()
        text = self._glued
        starts, ends = a.tolist(), b.tolist()
        seen: set[str] = set()
        total = 0
        next_free = 0
        for idx in candidates:
            if idx < next_free:
                continue
            gram = text[starts[idx] : ends[idx]]
            if gram in seen:
                total += len(gram)
                next_free = idx + n
            else:
                seen.add(gram)
        return total

    def _word_bounds(self) -> Any:
        if self._bounds is None:
            np = self._np
            lens = np.fromiter(map(len, self.tokens), dtype=np.int64, count=len(self.tokens))
            self._bounds = np.zeros(len(self.tokens) + 1, dtype=np.int64)
            np.cumsum(lens, out=self._bounds[1:])
        return self._bounds

    def _char_hashes(self) -> tuple[Any, Any]:
        """Prefix sums of code point * BASE**i and the powers of BASE**-1 (mod 2**64)."""
        if self._prefix is None:
            np = self._np
            self._glued = "".join(self.tokens)
            codes = np.frombuffer(self._glued.encode("utf-32-le"), dtype=np.uint32).astype(
                np.uint64
            )
            size = len(codes)
            with np.errstate(over="ignore"):
                powers = np.empty(size + 1, dtype=np.uint64)
                powers[0] = 1
                np.cumprod(np.full(size, _BASE, dtype=np.uint64), out=powers[1:])
                inv_powers = np.empty(size + 1, dtype=np.uint64)
                inv_powers[0] = 1
                np.cumprod(np.full(size, _BASE_INV, dtype=np.uint64), out=inv_powers[1:])
                prefix = np.zeros(size + 1, dtype=np.uint64)
                np.cumsum(codes * powers[:size], out=prefix[1:])
            self._prefix = (prefix, inv_powers)
        return self._prefix
