"""Fix broken text encoding (mojibake, HTML entities, control characters) with ftfy."""

from __future__ import annotations

from typing import Any, Literal

from blocks.base import BaseFormatter


class FTFYFormatter(BaseFormatter):
    """Repair encoding damage with ``ftfy.fix_text``, without normalizing the text's style.

    Defaults follow DataTrove: fix encoding problems (the point of this block), but keep
    ligatures, full-width characters, curly quotes and line breaks as they are, because a
    model should still see them; no Unicode normalization.
    """

    name = "FTFYFormatter"
    _requires_dependencies = (("ftfy", "processing"),)

    def __init__(
        self,
        unescape_html: str | bool = "auto",
        remove_terminal_escapes: bool = True,
        fix_encoding: bool = True,
        restore_byte_a0: bool = True,
        replace_lossy_sequences: bool = True,
        decode_inconsistent_utf8: bool = True,
        fix_c1_controls: bool = True,
        fix_latin_ligatures: bool = False,
        fix_character_width: bool = False,
        uncurl_quotes: bool = False,
        fix_line_breaks: bool = False,
        fix_surrogates: bool = True,
        remove_control_chars: bool = True,
        normalization: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = None,
    ) -> None:
        super().__init__()
        self.options: dict[str, Any] = {
            "unescape_html": unescape_html,
            "remove_terminal_escapes": remove_terminal_escapes,
            "fix_encoding": fix_encoding,
            "restore_byte_a0": restore_byte_a0,
            "replace_lossy_sequences": replace_lossy_sequences,
            "decode_inconsistent_utf8": decode_inconsistent_utf8,
            "fix_c1_controls": fix_c1_controls,
            "fix_latin_ligatures": fix_latin_ligatures,
            "fix_character_width": fix_character_width,
            "uncurl_quotes": uncurl_quotes,
            "fix_line_breaks": fix_line_breaks,
            "fix_surrogates": fix_surrogates,
            "remove_control_chars": remove_control_chars,
            "normalization": normalization,
        }
        self._config: Any = None
        self._fix: Any = None

    def format(self, text: str) -> str:
        if self._fix is None:
            import ftfy

            self._config = ftfy.TextFixerConfig(**self.options)
            self._fix = ftfy.fix_text
        return str(self._fix(text, config=self._config))
