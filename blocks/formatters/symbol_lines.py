"""Remove lines made only of symbols (separators, bullets, box drawing leftovers)."""

from __future__ import annotations

from collections.abc import Iterable

from blocks.base import BaseFormatter
from blocks.text import PUNCTUATION_SET


class SymbolLinesFormatter(BaseFormatter):
    """Drop every line that has some symbol and only symbols and spaces.

    Blank lines stay. A run of consecutive removed lines is replaced by one
    ``replace_char`` (by default nothing; "\\n" keeps a paragraph break). Symbols are
    DataTrove's punctuation set unless ``symbols_to_remove`` is given. Lines are
    re-joined with "\\n".
    """

    name = "SymbolLinesFormatter"

    def __init__(
        self,
        symbols_to_remove: Iterable[str] | None = None,
        replace_char: str = "",
    ) -> None:
        super().__init__()
        self.replace_char = replace_char
        self.symbols_to_remove = (
            frozenset(symbols_to_remove) if symbols_to_remove is not None else PUNCTUATION_SET
        )
        self._allowed = self.symbols_to_remove | {" "}

    def format(self, text: str) -> str:
        allowed = self._allowed
        out: list[str] = []
        in_removed = False
        for line in text.splitlines():
            symbols_only = line.strip() != "" and allowed.issuperset(line)
            if not symbols_only:
                out.append(line)
                in_removed = False
            elif not in_removed:
                if self.replace_char:
                    out.append(self.replace_char)
                in_removed = True
        return "\n".join(out)
