"""Character-level metrics of whole documents (DataTrove's ``DocStats``)."""

from __future__ import annotations

import re
from typing import Any

from blocks.document import Document
from blocks.stats.base import GROUP, BaseStats, TopKConfig, safe_divide

ELLIPSES = ("...", "…")
# DataTrove's punctuation set: common ASCII/CJK punctuation plus control characters
PUNCTUATION = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
    + "".join(chr(x) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b))
)
_ELLIPSIS_RE = re.compile("|".join(re.escape(e) for e in ELLIPSES))


class DocStats(BaseStats):
    """``length`` and the ratios of whitespace, non-alphanumeric, digit, uppercase,
    ellipsis and punctuation characters."""

    name = "DocStats"

    def __init__(
        self,
        output_folder: Any,
        groups_to_compute: list[GROUP] | None = None,
        histogram_round_digits: int = 3,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(output_folder, groups_to_compute, histogram_round_digits, top_k_config)

    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        text = doc.text
        n = len(text)
        alnum = sum(map(str.isalnum, text))
        digits = sum(map(str.isdigit, text))
        # isalnum also counts numeric characters such as "½" that are neither alpha nor digit
        numeric_only = sum(1 for c in text if c.isnumeric() and not c.isdigit() and not c.isalpha())
        return {
            "length": n,
            "white_space_ratio": safe_divide(sum(map(str.isspace, text)), n),
            "non_alpha_digit_ratio": safe_divide(n - alnum + numeric_only, n),
            "digit_ratio": safe_divide(digits, n),
            "uppercase_ratio": safe_divide(sum(map(str.isupper, text)), n),
            "elipsis_ratio": safe_divide(sum(len(m) for m in _ELLIPSIS_RE.findall(text)), n),
            "punctuation_ratio": safe_divide(sum(1 for c in text if c in PUNCTUATION), n),
        }
