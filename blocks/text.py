"""Shared text splitting for the blocks: words, sentences, paragraphs and normalization.

"Words once": every block that needs the words (or sentences) of a document gets them from
:func:`words` / :func:`sentences`, which compute them once and keep them in ``doc.cache``
keyed by the text they came from, so a block that rewrites ``doc.text`` makes the next
reader recompute instead of reading stale words.

DataTrove splits English with spaCy's rule-based tokenizer (``spacy.blank("en")``) and its
``sentencizer``; the filters' statistics (word counts, mean word length, stop words,
symbol ratios, n-gram repetition, sentences per line) depend on exactly where that
tokenizer cuts. :class:`RuleTokenizer` reproduces the same algorithm (split on whitespace,
then peel prefixes / suffixes, keep special cases and URLs whole, split infixes) with our
own rules for English, in plain Python over a per-chunk cache: real text repeats its
whitespace-separated chunks so much that almost every chunk is a dictionary hit, which is
what makes it tens of times faster than building spaCy ``Doc`` objects.

Other languages use the same rules without the English exceptions; scripts written
without spaces (Chinese, Japanese, Thai, ...) are not segmented into words.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from blocks.document import Document

T = TypeVar("T")


def _spaced(words: str) -> list[str]:
    """A list from space-separated words (keeps long tables of short strings readable)."""
    return words.split()


def _chars(spec: str) -> str:
    """Characters from a space-separated list of hex code points and ``lo-hi`` ranges."""
    out: list[str] = []
    for part in spec.split():
        lo, _, hi = part.partition("-")
        out.extend(chr(c) for c in range(int(lo, 16), int(hi or lo, 16) + 1))
    return "".join(out)


# Unicode Sentence_Terminal (Unicode 15 PropList), the stop characters DataTrove's filters use.
_STERM_OLD = _chars(
    "21 2e 3f 589 61f 6d4 700-702 7f9 964-965 104a-104b 1362 1367-1368 166e 1735-1736 "
    "1803 1809 1944-1945 1aa8-1aab 1b5a-1b5b 1b5e-1b5f 1c3b-1c3c 1c7e-1c7f 203c-203d "
    "2047-2049 2e2e 2e3c 3002 a4ff a60e-a60f a6f3 a6f7 a876-a877 a8ce-a8cf a92f "
    "a9c8-a9c9 aa5d-aa5f aaf0-aaf1 abeb fe52 fe56-fe57 ff01 ff0e ff1f ff61 10a56-10a57 "
    "11047-11048 110be-110c1 11141-11143 111c5-111c6 111cd 111de-111df 11238-11239 "
    "1123b-1123c 112a9 1144b-1144c 115c2-115c3 115c9-115d7 11641-11642 1173c-1173e "
    "11a42-11a43 11a9b-11a9c 11c41-11c42 16a6e-16a6f 16af5 16b37-16b38 16b44 1bc9f 1da88"
)
_STERM_NEW = _chars(
    "61d-61e 837 839 83d-83e 17d4-17d6 17d9-17da 1b7d-1b7e 2e53-2e54 10f55-10f59 "
    "10f86-10f89 11944 11946 11ef7-11ef8 11f43-11f44 16e98"
)
TERMINAL_PUNCTUATION: frozenset[str] = frozenset(_STERM_OLD + _STERM_NEW)
# spaCy's sentencizer ends sentences on the older subset.
SENTENCE_END_CHARS: frozenset[str] = frozenset(_STERM_OLD)

# Symbols DataTrove counts as "not a word": ASCII punctuation, common CJK and typographic
# punctuation, and the C0/C1 control characters except tab and newline.
PUNCTUATION: str = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    "\u2014\u201d\uff05\uff11\u3008\u3001\u2501\u3010\u300c\u300d\uff0c\u3011\uff1b\u201c"
    "\u300a\u201e\u2019\u2236\xb4\uff0e\uff08\u2013\uff1f\uff01\uff1a\uff5e\xab\u3009"
    "\u300b\uff09\u3002\u2026\u25ba\xbb" + _chars("0-8 b-c d-1f 7f-9f")
)
PUNCTUATION_SET: frozenset[str] = frozenset(PUNCTUATION) | TERMINAL_PUNCTUATION
PUNCTUATION_TRANS = str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))


# --------------------------------------------------------------------------- normalization


@dataclass(frozen=True, slots=True)
class TextNormConfig:
    """Which steps :func:`simplify_text` applies (DataTrove's defaults)."""

    lowercase: bool = True
    norm_whitespace: bool = True
    remove_punctuation: bool = True
    norm_unicode_diacritics: bool = True
    norm_numbers: bool = True
    norm_weekdays: bool = False
    norm_monthnames: bool = False


DEF_TEXT_NORM_CONFIG = TextNormConfig()
_NUMBERS = re.compile(r"\d+(?:[.,\u060c\u066b\u2396\u2397\u2398]\d+)?")
_WHITESPACE = re.compile(r"\s+")
_WEEKDAYS = re.compile(r"monday|tuesday|wednesday|thursday|friday|saturday|sunday")
_MONTHS = re.compile(
    r"january|february|march|april|may|june|july|august|september|october|november|december"
)


def simplify_text(text: str, config: TextNormConfig = DEF_TEXT_NORM_CONFIG) -> str:
    """Normalize text so that near-identical documents compare equal (used by dedup).

    In order: lowercase, numbers -> "0", weekday/month names, punctuation -> space,
    collapse whitespace, strip diacritics (NFD without combining marks).
    """
    if config.lowercase:
        text = text.lower()
    if config.norm_numbers:
        text = _NUMBERS.sub("0", text)
    if config.norm_weekdays:
        text = _WEEKDAYS.sub("WEEKDAY", text)
    if config.norm_monthnames:
        text = _MONTHS.sub("MONTH", text)
    if config.remove_punctuation:
        text = text.translate(PUNCTUATION_TRANS)
    if config.norm_whitespace:
        text = _WHITESPACE.sub(" ", text.strip())
    if config.norm_unicode_diacritics:
        text = "".join(
            c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
        )
    return text.strip()


# --------------------------------------------------------------------------- tokenizer rules

_DIGITS = frozenset("0123456789")
_QUOTES = "'\"\u201d\u201c`\u2018\xb4\u2019\u201a,\u201e\xbb\xab\u300c\u300d\u300e\u300f\uff08\uff09\u3014\u3015\u3010\u3011\u300a\u300b\u2329\u232a\u3008\u3009\u27e6\u27e7"
_PUNCT = "\u2026,:;!?\xbf\u061f\xa1()[]{}<>_#*&\u3002\uff1f\uff01\uff0c\u3001\uff1b\uff1a\uff5e\xb7\u0964\u060c\u06d4\u061b\u066a"
_CURRENCY_CHARS = "$\xa3\u20ac\xa5\u0e3f\u20bd\ufdfc\u20b4" + _chars("20a0-20bf")
_PREFIX_CHARS = frozenset("\xa7%=\u2014\u2013" + _PUNCT + _QUOTES + _CURRENCY_CHARS)
_SUFFIX_CHARS = frozenset(_PUNCT + _QUOTES + "\u2014\u2013")
# Characters after which a final "." is cut off: digits, lowercase letters (tested apart),
# "%", superscript two, +/-, punctuation and quotes.
_DOT_AFTER = frozenset("%\xb2-+|(?:)" + _PUNCT + _QUOTES) | _DIGITS
_UNITS = frozenset(
    _spaced(
        "km km\xb2 km\xb3 m m\xb2 m\xb3 dm dm\xb2 dm\xb3 cm cm\xb2 cm\xb3 mm mm\xb2 mm\xb3 ha "
        "\xb5m nm yd in ft kg g mg \xb5g t lb oz m/s km/h kmh mph hPa Pa mbar mb MB kb KB gb "
        "GB tb TB T G M K % + US$ C$ A$"
    )
    + list(_CURRENCY_CHARS)
)
_HYPHENS = ("-", "\u2013", "\u2014", "--", "---", "\u2014\u2014", "~")


# spaCy's letter classes: which scripts count as letters, and which of them have no case
# (those count as both lower- and uppercase in the affix rules).
_ALPHA_RANGES = (
    "41-5a 61-7a c0-d6 d8-f6 f8-1bf 1c4-2af 386 388-38a 38c 38e-38f 391-3a9 3ac-3af 3b1-3c9 "
    "3cc-3ce 400-401 403-40a 40c-40d 410-451 453-45a 45c-45d 490-491 496-497 4a2-4a3 "
    "4ae-4af 4ba-4bb 4d8-4d9 4e8-4e9 1d00-1d25 1d6b-1d77 1d79-1d9a 1e00-1eff 2c60-2c7b "
    "2c7e-2c7f a722-a76f a771-a787 a78b-a78e a790-a7b9 a7fa ab30-ab5a ab60-ab64 ff21-ff3a "
    "ff41-ff5a"
)
_UNCASED_RANGES = (
    "591-5f4 620-64a 66e-6d5 6e5-6ff 750-77f 8a0-8bd 900-9ff b80-cff d80-dff 1100-137f "
    "2e80-2fdf 2ff0-30ff 31c0-31ef 3200-4dbf 4e00-9fff ac00-d7af f900-faff fb1d-fbb1 "
    "fbd3-fd3d fd50-fdc7 fdf0-fdfb fe30-fe4f fe70-fefc 1ee00-1eebb 1f200-1f2ff "
    "20000-2a6df 2a700-2ebef 2f800-2fa1f"
)


# Symbols split off like punctuation (spaCy's icon class: Unicode So as of its tables).
_ICON_RANGES = (
    "a6 a9 ae b0 482 58d-58e 60e-60f 6de 6e9 6fd-6fe 7f6 9fa b70 bf3-bf8 bfa c7f d4f d79 "
    "f01-f03 f13 f15-f17 f1a-f1f f34 f36 f38 fbe-fc5 fc7-fcc fce-fcf fd5-fd8 109e-109f "
    "1390-1399 1940 19de-19ff 1b61-1b6a 1b74-1b7c 2100-2101 2103-2106 2108-2109 2114 "
    "2116-2117 211e-2123 2125 2127 2129 212e 213a-213b 214a 214c-214d 214f 218a-218b "
    "2195-2199 219c-219f 21a1-21a2 21a4-21a5 21a7-21ad 21af-21cd 21d0-21d1 21d3 21d5-21f3 "
    "2300-2307 230c-231f 2322-2328 232b-237b 237d-239a 23b4-23db 23e2-2426 2440-244a "
    "249c-24e9 2500-25b6 25b8-25c0 25c2-25f7 2600-266e 2670-2767 2794-27bf 2800-28ff "
    "2b00-2b2f 2b45-2b46 2b4d-2b73 2b76-2b95 2b98-2bc8 2bca-2bfe 2ce5-2cea 2e80-2e99 "
    "2e9b-2ef3 2f00-2fd5 2ff0-2ffb 3004 3012-3013 3020 3036-3037 303e-303f 3190-3191 "
    "3196-319f 31c0-31e3 3200-321e 322a-3247 3250 3260-327f 328a-32b0 32c0-32fe 3300-33ff "
    "4dc0-4dff a490-a4c6 a828-a82b a836-a837 a839 aa77-aa79 fdfd ffe4 ffe8 ffed-ffee "
    "fffc-fffd 10137-1013f 10179-10189 1018c-1018e 10190-1019b 101a0 101d0-101fc "
    "10877-10878 10ac8 1173f 16b3c-16b3f 16b45 1bc9c 1d000-1d0f5 1d100-1d126 1d129-1d164 "
    "1d16a-1d16c 1d183-1d184 1d18c-1d1a9 1d1ae-1d1e8 1d200-1d241 1d245 1d300-1d356 "
    "1d800-1d9ff 1da37-1da3a 1da6d-1da74 1da76-1da83 1da85-1da86 1ecac 1f000-1f02b "
    "1f030-1f093 1f0a0-1f0ae 1f0b1-1f0bf 1f0c1-1f0cf 1f0d1-1f0f5 1f110-1f16b 1f170-1f1ac "
    "1f1e6-1f202 1f210-1f23b 1f240-1f248 1f250-1f251 1f260-1f265 1f300-1f3fa 1f400-1f6d4 "
    "1f6e0-1f6ec 1f6f0-1f6f9 1f700-1f773 1f780-1f7d8 1f800-1f80b 1f810-1f847 1f850-1f859 "
    "1f860-1f887 1f890-1f8ad 1f900-1f90b 1f910-1f93e 1f940-1f970 1f973-1f976 1f97a "
    "1f97c-1f9a2 1f9b0-1f9b9 1f9c0-1f9c2 1f9d0-1f9ff 1fa60-1fa6d "
)


def _ranges_class(codes: list[int]) -> str:
    """A compact regex class body (``a-b`` runs) for sorted code points; sre scans long
    lists of single characters one by one, but tests ranges quickly."""
    parts: list[str] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = re.escape(chr(codes[i])), re.escape(chr(codes[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(parts)


def _class(spec: str) -> str:
    """A regex character class body from hex ranges."""
    parts = []
    for part in spec.split():
        lo, _, hi = part.partition("-")
        a, b = chr(int(lo, 16)), chr(int(hi or lo, 16))
        parts.append(re.escape(a) + ("-" + re.escape(b) if b != a else ""))
    return "".join(parts)


_CASED = _chars(_ALPHA_RANGES)
_LOWER_CLASS = _ranges_class([ord(c) for c in _CASED if c.islower()]) + _class(_UNCASED_RANGES)
_UPPER_CLASS = _ranges_class([ord(c) for c in _CASED if c.isupper()]) + _class(_UNCASED_RANGES)
_is_alpha_match = re.compile(f"[{_class(_ALPHA_RANGES)}{_class(_UNCASED_RANGES)}]").match
_is_lower_match = re.compile(f"[{_LOWER_CLASS}]").match
_is_upper_match = re.compile(f"[{_UPPER_CLASS}]").match
_is_icon_match = re.compile(f"[{_class(_ICON_RANGES)}]").match


def _is_alpha(ch: str) -> bool:
    return _is_alpha_match(ch) is not None


def _is_lower(ch: str) -> bool:
    return _is_lower_match(ch) is not None


def _is_upper(ch: str) -> bool:
    return _is_upper_match(ch) is not None


def _is_icon(ch: str) -> bool:
    return _is_icon_match(ch) is not None


_URL = re.compile(
    r"(?:[\w+\-.]{2,}://)?(?:\S+(?::\S*)?@)?"
    r"(?:(?!(?:10|127)(?:\.\d{1,3}){3})(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})"
    r"(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})"
    r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}"
    r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))"
    r"|(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\.)+"
    r"(?:[" + _LOWER_CLASS + r"]{2,63}))(?::\d{2,5})?(?:[/?#]\S*)?"
)


# Longer chunks are never taken for URLs: the URL pattern backtracks quadratically on
# long runs of ":" and no real URL is that long.
_URL_MAX = 2048


def _find_prefix(s: str, start: int, end: int) -> int:
    """Length of the prefix to peel off ``s[start:end]`` (0: none)."""
    c = s[start]
    if c == "+":
        return 0 if end - start > 1 and s[start + 1] in _DIGITS else 1
    if c in _PREFIX_CHARS:
        return 1
    if c == "." and s.startswith("..", start, end):
        j = start
        while j < end and s[j] == ".":
            j += 1
        return j - start
    if s.startswith("US$", start, end):
        return 3
    if s.startswith(("C$", "A$"), start, end):
        return 2
    return 1 if _is_icon(c) else 0


def _find_suffix(s: str, start: int, end: int) -> int:
    """Length of the suffix to peel off ``s[start:end]`` (0: none); the leftmost rule wins."""
    n = end - start
    if n <= 0:
        return 0
    best = end
    last = s[end - 1]
    if last in _SUFFIX_CHARS or _is_icon(last):
        best = end - 1
    if n >= 2 and (
        s.endswith("\u2026\u2026", start, end)
        or s[end - 2 : end] in ("'s", "'S", "\u2019s", "\u2019S")
    ):
        best = end - 2
    if last == ".":
        j = end - 1
        while j > start and s[j - 1] == ".":
            j -= 1
        if end - j >= 2:
            best = min(best, j)
        elif n >= 2:
            prev = s[end - 2]
            if (
                prev in _DOT_AFTER
                or _is_lower(prev)
                or (n >= 3 and _is_upper(prev) and _is_upper(s[end - 3]))
                or (n >= 3 and s[end - 3] == "\xb0" and prev in "FfCcKk")
            ):
                best = min(best, end - 1)
    for p in range(max(start + 1, end - 4), best):
        if s[p - 1] in _DIGITS and s[p:end] in _UNITS:
            best = p
            break
    return end - best


# Where an infix can start: dots, ellipsis, symbols, arithmetic, comma, hyphens, ":<>=/".
_ICON_CLASS = _class(_ICON_RANGES)
_INFIX_START = re.compile(f"[.\u2026+\\-*^,\u2013\u2014~:<>=/{_ICON_CLASS}]")


def _find_infixes(s: str) -> list[tuple[int, int]]:
    """Non-overlapping infix matches, leftmost first, rules tried in spaCy's English order."""
    out: list[tuple[int, int]] = []
    n = len(s)
    pos = 0
    for m in _INFIX_START.finditer(s):
        i = m.start()
        if i < pos:
            continue
        c = s[i]
        if c == "." and i + 1 < n and s[i + 1] == ".":
            j = i
            while j < n and s[j] == ".":
                j += 1
            out.append((i, j))
            pos = j
            continue
        if c == "\u2026" or _is_icon(c):
            out.append((i, i + 1))
            pos = i + 1
            continue
        prev = s[i - 1] if i else " "
        nxt = s[i + 1] if i + 1 < n else " "
        if c in "+-*^" and prev in _DIGITS and (nxt in _DIGITS or nxt == "-"):
            out.append((i, i + 1))
            pos = i + 1
        elif c == ".":
            if (_is_lower(prev) or prev in _QUOTES) and (_is_upper(nxt) or nxt in _QUOTES):
                out.append((i, i + 1))
                pos = i + 1
        elif c == ",":
            if _is_alpha(prev) and _is_alpha(nxt):
                out.append((i, i + 1))
                pos = i + 1
        elif prev in _DIGITS or _is_alpha(prev):
            for h in _HYPHENS:
                end = i + len(h)
                if end < n and s.startswith(h, i) and _is_alpha(s[end]):
                    out.append((i, end))
                    pos = end
                    break
            else:
                if c in ":<>=/" and _is_alpha(nxt):
                    out.append((i, i + 1))
                    pos = i + 1
    return out


# --------------------------------------------------------------------------- special cases

# Chunks kept whole in every language: emoticons, a few symbols and "x." initials.
_BASE_WHOLE = _spaced(
    "' '' \\\") <space> \\n \\t C++ \u2014 "
    ":) :-) :)) :-)) :))) :-))) (: (-: ;) ;-) (; (-; :( :-( :(( :-(( :((( :-((( ): )-: "
    ":D :-D 8D 8-D ;D ;-D =D xD XD xDD XDD :P :-P :p :-p :O :-O :o :-o :0 :-0 :() :o) "
    ":X :-X :x :-x :* :-* :/ :-/ =/ :| :-| =| :] :-] =] [: [-: [= ]= :} :-} :> :-> :3 :-3 "
    ":1 =3 =( =) =[ 8) 8-) (-8 (= (o: :'( :') :'-( :'-) "
    ";_; <3 <33 <333 </3 <.< >.< >.> >:( >:o -_- -__- ._. o_o o_O o_0 O_o O_O 0_o 0_0 "
    "o.o o.O o.0 O.o O.O 0.o 0.0 v.v V.V v_v V_V @_@ ^_^ ^__^ ^___^ (^_^) (>_<) (*_*) "
    "(-_-) (._.) (\xac_\xac) (\u0ca0_\u0ca0) \u0ca0_\u0ca0 \u0ca0\ufe35\u0ca0 ><(((*> "
    "\xaf\\(\u30c4)/\xaf (\u256f\xb0\u25a1\xb0\uff09\u256f\ufe35\u253b\u2501\u253b"
)
_BASE_WHOLE.extend((" ", "\t", "\n", "\xa0"))
_LETTER_DOTS = [c + "." for c in "abcdefghijklmnopqrstuvwxyz\xe4\xf6\xfc"]

# English abbreviations and clipped words kept whole.
_EN_WHOLE = _spaced(
    "Adm. Ak. Ala. Apr. Ariz. Ark. Aug. Bros. Calif. Co. co. Colo. Conn. Corp. D.C. Dec. "
    "Del. Dr. E.G. E.g. e.g. Feb. Fla. Ga. Gen. Gov. I.E. I.e. i.e. Ia. Id. Ill. Inc. Ind. "
    "Jan. Jr. Jul. Jun. Kan. Kans. Ky. La. Ltd. Mar. Mass. Md. Messrs. Mich. Minn. Miss. "
    "Mo. Mont. Mr. Mrs. Ms. Mt. N.C. N.D. N.H. N.J. N.M. N.Y. Neb. Nebr. Nev. Nov. Oct. "
    "Okla. Ore. Pa. Ph.D. Prof. Rep. Rev. S.C. Sen. Sep. Sept. St. Tenn. Va. Wash. Wis. "
    "a.m. p.m. vs. v.s. and/or w/o em ll nuff"
)
_EN_CLIPPED = ("doin", "goin", "havin", "lovin", "nothin", "nuthin", "somethin", "ol")
_EN_APOS_WORDS = ("cause", "cos", "coz", "cuz", "bout", "em", "nuff", "d", "ll", "re", "s")

# Contractions: base word -> the clitic sequences it takes; the base stays the first token.
_D, _LL = ("'d",), ("'ll",)
_PRONOUN = (_D, ("'d", "'ve"), _LL, ("'ll", "'ve"))
_NT, _NT_VE, _VE = ("n't",), ("n't", "'ve"), ("'ve",)
_EN_CONTRACTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "i": (*_PRONOUN, ("'m",), ("'m", "a"), _VE),
    **dict.fromkeys(("he", "she", "it", "that", "this"), (*_PRONOUN, ("'s",))),
    **dict.fromkeys(("we", "they", "you", "these", "those"), (*_PRONOUN, ("'re",), _VE)),
    **dict.fromkeys(
        ("who", "what", "when", "where", "why", "there"), (*_PRONOUN, ("'re",), ("'s",), _VE)
    ),
    "how": (*_PRONOUN, ("'re",), ("'s",), _VE, ("'d", "'y")),
    **dict.fromkeys(("could", "might", "must", "should", "would"), (_VE, _NT, _NT_VE)),
    **dict.fromkeys(
        ("ca", "did", "does", "do", "had", "may", "need", "ought", "sha", "wo"), (_NT, _NT_VE)
    ),
    **dict.fromkeys(("ai", "are", "dare", "has", "have", "is", "was", "were"), (_NT,)),
    "not": (_VE,),
    "let": (("'s",),),
}
# Written without an apostrophe these are ordinary words, so they are not split.
_EN_NO_APOSTROPHE_WORDS = frozenset(
    ("ill", "hell", "shed", "shell", "its", "well", "were", "whore", "howdy", "lets")
)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _english_specials() -> dict[str, tuple[str, ...]]:
    """spaCy-compatible English exceptions: contractions, abbreviations, times."""
    out = _base_specials()
    for base, sequences in _EN_CONTRACTIONS.items():
        for clitics in sequences:
            for apos in ("'", "\u2019", ""):
                tail = tuple(c.replace("'", apos) for c in clitics)
                for first in {base, _cap(base)}:
                    key = first + "".join(tail)
                    if apos or key.lower() not in _EN_NO_APOSTROPHE_WORDS:
                        out[key] = (first, *tail)
    for first, rest in (("can", "not"), ("gon", "na"), ("got", "ta")):
        for f in (first, _cap(first)):
            out[f + rest] = (f, rest)
    for apos in ("'", "\u2019"):
        for f in ("c" + apos + "m", "C" + apos + "m"):
            out[f + "on"] = (f, "on")
        out["y" + apos + "all"] = ("y" + apos, "all")
        for word in _EN_APOS_WORDS:
            out[apos + word] = (apos + word,)
            if word.startswith("c"):
                out[apos + _cap(word)] = (apos + _cap(word),)
        out[apos + "S"] = (apos + "S",)
        for word in ("ma" + apos + "am", "o" + apos + "clock"):
            out[word] = (word,)
            out[_cap(word)] = (_cap(word),)
    out["yall"] = ("y", "all")
    for word in _EN_WHOLE:
        out[word] = (word,)
    for word in _EN_CLIPPED:
        for w in (word, _cap(word)):
            for apos in ("", "'", "\u2019"):
                out[w + apos] = (w + apos,)
    for word in (
        "\u2018s",
        "\u2018S",
        "\u2019\u2019",
        "\u2019",
        ":\u2019(",
        ":\u2019)",
        ":\u2019-(",
        ":\u2019-)",
    ):
        out[word] = (word,)
    for hour in range(1, 13):
        for suffix in ("am", "pm", "a.m.", "p.m."):
            out[f"{hour}{suffix}"] = (str(hour), suffix)
    return out


def _base_specials() -> dict[str, tuple[str, ...]]:
    """Exceptions shared by every language: emoticons, initials, degree units."""
    out: dict[str, tuple[str, ...]] = {w: (w,) for w in (*_BASE_WHOLE, *_LETTER_DOTS)}
    for unit in "CFKcfk":
        out[f"\xb0{unit}."] = ("\xb0", unit, ".")
    return out


# --------------------------------------------------------------------------- tokenizer


class RuleTokenizer:
    """spaCy's tokenization algorithm over our rules, with a cache of whitespace chunks.

    ``tokens(text)`` gives the words (whitespace dropped, as DataTrove's ``word_tokenize``
    does); ``chunk_tokens(chunk)`` the tokens of one whitespace-free chunk. Special cases
    that contain punctuation are also matched over the tokens of a chunk afterwards (so
    "(z." gives "(", "z." as in spaCy, not "(", "z", ".").
    """

    max_cache = 500_000
    max_cached_chunk = 100

    def __init__(self, specials: dict[str, tuple[str, ...]]) -> None:
        self.specials = specials
        self._longest_special = max(map(len, specials), default=0)
        self._cache: dict[str, tuple[str, ...]] = dict(specials)
        self._patterns: dict[tuple[str, ...], str] = {}
        for key in specials:
            n = len(key)
            if (
                _find_prefix(key, 0, n)
                or _find_suffix(key, 0, n)
                or _find_infixes(key)
                or " " in key
            ):
                pattern = self._affixes(key, {})
                if len(pattern) > 1:
                    self._patterns[pattern] = key
        self._longest = max((len(p) for p in self._patterns), default=0)
        self._pattern_starts = frozenset(p[0] for p in self._patterns)

    def chunk_tokens(self, chunk: str) -> tuple[str, ...]:
        toks = self._cache.get(chunk)
        if toks is None:
            if chunk.isalpha() or chunk.isdigit():
                # no affix, infix or unit rule applies to letters or digits alone
                toks = (chunk,)
            else:
                toks = self._affixes(chunk, self.specials)
                if len(toks) > 1 and self._patterns:
                    toks = self._merge_specials(toks)
            if len(chunk) <= self.max_cached_chunk:
                if len(self._cache) >= self.max_cache:
                    self._cache = dict(self.specials)
                self._cache[chunk] = toks
        return toks

    def tokens(self, text: str) -> list[str]:
        out: list[str] = []
        extend = out.extend
        get = self._cache.get
        for chunk in text.split():
            toks = get(chunk)
            extend(toks if toks is not None else self.chunk_tokens(chunk))
        return out

    def _affixes(self, s: str, specials: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        """Peel prefixes and suffixes, then keep a special case or URL whole or split infixes.

        Works on indices into the chunk, and looks special cases up only for pieces short
        enough to be one, so even a huge chunk of brackets is peeled in linear time.
        """
        longest = self._longest_special if specials else 0
        prefixes: list[str] = []
        suffixes: list[str] = []
        start, end = 0, len(s)
        last = -1
        while end > start and end - start != last:
            n = end - start
            if n <= longest and s[start:end] in specials:
                break
            last = n
            pre = _find_prefix(s, start, end)
            if pre and n - pre <= longest and s[start + pre : end] in specials:
                prefixes.append(s[start : start + pre])
                start += pre
                break
            suf = _find_suffix(s, start + pre, end)
            if suf and n - suf <= longest and s[start : end - suf] in specials:
                suffixes.append(s[end - suf : end])
                end -= suf
                break
            if pre and suf and pre + suf <= n:
                prefixes.append(s[start : start + pre])
                suffixes.append(s[end - suf : end])
                start += pre
                end -= suf
            elif pre:
                prefixes.append(s[start : start + pre])
                start += pre
            elif suf:
                suffixes.append(s[end - suf : end])
                end -= suf
        s = s[start:end]
        out = prefixes
        if s:
            special = specials.get(s)
            if special is not None:
                out.extend(special)
            elif len(s) <= _URL_MAX and _URL.fullmatch(s):
                out.append(s)
            else:
                start = 0
                for a, b in _find_infixes(s):
                    if a == 0:
                        continue
                    if a != start:
                        out.append(s[start:a])
                    if a != b:
                        out.append(s[a:b])
                    start = b
                if start < len(s):
                    out.append(s[start:])
        out.extend(reversed(suffixes))
        return tuple(out)

    def _merge_specials(self, toks: tuple[str, ...]) -> tuple[str, ...]:
        """Re-join token runs that spell a special case; longest, then leftmost, first."""
        n = len(toks)
        found: list[tuple[int, int, str]] = []
        starts = self._pattern_starts
        for i in range(n - 1):
            if toks[i] not in starts:
                continue
            for j in range(i + 2, min(n, i + self._longest) + 1):
                key = self._patterns.get(toks[i:j])
                if key is not None:
                    found.append((i, j, key))
        if not found:
            return toks
        found.sort(key=lambda m: (m[0] - m[1], m[0]))
        seen: set[int] = set()
        chosen: dict[int, tuple[int, str]] = {}
        for i, j, key in found:
            if i not in seen and j - 1 not in seen:
                chosen[i] = (j, key)
            seen.update(range(i, j))
        out: list[str] = []
        i = 0
        while i < n:
            hit = chosen.get(i)
            if hit is None:
                out.append(toks[i])
                i += 1
            else:
                out.extend(self.specials[hit[1]])
                i = hit[0]
        return tuple(out)


_TOKENIZERS: dict[bool, RuleTokenizer] = {}


def get_tokenizer(language: str = "en") -> RuleTokenizer:
    """The shared tokenizer for ``language`` (English rules for "en", base rules otherwise)."""
    english = language.split("_")[0] in ("en", "eng")
    tok = _TOKENIZERS.get(english)
    if tok is None:
        tok = RuleTokenizer(_english_specials() if english else _base_specials())
        _TOKENIZERS[english] = tok
    return tok


def split_words(text: str, language: str = "en") -> list[str]:
    """The words of ``text`` as DataTrove's ``split_into_words`` gives them (no whitespace)."""
    return get_tokenizer(language).tokens(text)


# --------------------------------------------------------------------------- sentences

_PUNCT_TOKEN: dict[str, bool] = {}
_SPAN = re.compile(r"\S+|\s+")


def _is_punct(token: str) -> bool:
    flag = _PUNCT_TOKEN.get(token)
    if flag is None:
        flag = all(unicodedata.category(c)[0] == "P" for c in token)
        if len(_PUNCT_TOKEN) < 100_000:
            _PUNCT_TOKEN[token] = flag
    return flag


def sentence_ends(text: str, language: str = "en") -> list[int]:
    """Character offsets where each sentence ends, as spaCy's sentencizer decides.

    A sentence ends after a terminal punctuation token (".", "!", "?", "。", ...) once a
    token that is not punctuation follows; whitespace other than one plain space counts
    as a token, as in spaCy.
    """
    tok = get_tokenizer(language)
    ends: list[int] = []
    seen_period = False
    prev_end = 0
    any_token = False
    for m in _SPAN.finditer(text):
        piece = m.group()
        pos = m.start()
        if piece[0].isspace():
            if pos and piece[0] == " ":
                piece = piece[1:]
                pos += 1
            if not piece:
                continue
            if seen_period:
                ends.append(prev_end)
                seen_period = False
            any_token = True
            prev_end = pos + len(piece)
            continue
        for t in tok.chunk_tokens(piece):
            any_token = True
            end = pos + len(t)
            if t in SENTENCE_END_CHARS:
                seen_period = True
            elif seen_period and not _is_punct(t):
                ends.append(prev_end)
                seen_period = False
            prev_end = end
            pos = end
    if any_token:
        ends.append(prev_end)
    return ends


def split_sentences(text: str, language: str = "en") -> list[str]:
    """``text`` cut into sentences, every character kept (DataTrove's split_into_sentences)."""
    ends = sentence_ends(text, language)
    if not ends:
        return [text]
    cuts = [0, *ends[:-1], len(text)]
    return [text[a:b] for a, b in itertools.pairwise(cuts)]


_EFFECTS: dict[bool, dict[str, tuple[int, int, bool, bool]]] = {False: {}, True: {}}


def _chunk_effect(tok: RuleTokenizer, english: bool, chunk: str) -> tuple[int, int, bool, bool]:
    """What a chunk does to the sentencizer's state: (boundaries, state) per input state."""
    effects = _EFFECTS[english]
    effect = effects.get(chunk)
    if effect is None:
        result: list[tuple[int, bool]] = []
        for seen in (False, True):
            found = 0
            for t in tok.chunk_tokens(chunk):
                if t in SENTENCE_END_CHARS:
                    seen = True
                elif seen and not _is_punct(t):
                    found += 1
                    seen = False
            result.append((found, seen))
        effect = (result[0][0], result[1][0], result[0][1], result[1][1])
        if len(effects) >= 500_000:
            effects.clear()
        effects[chunk] = effect
    return effect


def count_sentences(text: str, language: str = "en") -> int:
    """How many sentences :func:`split_sentences` would return (at least 1).

    Same decisions as :func:`sentence_ends`, computed per whitespace chunk with a cache of
    each chunk's effect on the sentencizer, which makes counting per line cheap.
    """
    chunks = text.split()
    gaps = len(chunks) - 1
    if gaps < 0:
        return 1
    if text[0].isspace() or text[-1].isspace() or len(text) - sum(map(len, chunks)) != gaps:
        return max(1, len(sentence_ends(text, language)))
    if gaps != text.count(" "):
        return max(1, len(sentence_ends(text, language)))
    tok = get_tokenizer(language)
    english = tok is _TOKENIZERS.get(True)
    effects = _EFFECTS[english]
    count = 1
    seen = False
    for chunk in chunks:
        effect = effects.get(chunk) or _chunk_effect(tok, english, chunk)
        if seen:
            count += effect[1]
            seen = effect[3]
        else:
            count += effect[0]
            seen = effect[2]
    return count


def split_paragraphs(text: str) -> list[str]:
    """Lines with the blank lines that follow them merged in (DataTrove's PARAGRAPH mode)."""
    lines = text.splitlines()
    out: list[str] = []
    current: list[str] = []
    for i, line in enumerate(lines):
        if line.strip() and current:
            out.append("".join(current))
            current = []
        current.append(line)
        if i != len(lines) - 1:
            current.append("\n")
    if current:
        out.append("".join(current))
    return out


# --------------------------------------------------------------------------- per-document cache


def doc_cached(doc: Document, key: str, compute: Callable[[str], T]) -> T:
    """``compute(doc.text)``, computed once per text and kept in ``doc.cache[key]``.

    The entry remembers the text object it came from; once ``doc.text`` is replaced the
    next call recomputes, so no block ever reads values of an older text.
    """
    text = doc.text
    entry: Any = doc.cache.get(key)
    if entry is not None and entry[0] is text:
        return entry[1]
    value = compute(text)
    doc.cache[key] = (text, value)
    return value


def words(doc: Document, language: str = "en") -> list[str]:
    """The words of ``doc`` (see :func:`split_words`), computed once per text."""
    return doc_cached(doc, f"words:{language}", lambda text: split_words(text, language))


def sentences(doc: Document, language: str = "en") -> list[str]:
    """The sentences of ``doc`` (see :func:`split_sentences`), computed once per text."""
    return doc_cached(doc, f"sentences:{language}", lambda text: split_sentences(text, language))
