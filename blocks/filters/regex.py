"""Drop documents matching a regular expression."""

from __future__ import annotations

import re

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document


class RegexFilter(BaseFilter):
    """Drop a document when ``regex_exp`` is found anywhere in its text (as DataTrove does)."""

    name = "RegexFilter"

    def __init__(self, regex_exp: str, exclusion_writer: PipelineStep | None = None) -> None:
        super().__init__(exclusion_writer)
        try:
            self.regex = re.compile(regex_exp)
        except re.error as err:
            raise ValueError(f"invalid regex_exp {regex_exp!r}: {err}") from err

    def filter(self, doc: Document) -> bool:
        return self.regex.search(doc.text) is None
