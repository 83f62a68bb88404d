"""Keep documents for which a function returns True."""

from __future__ import annotations

from collections.abc import Callable

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document


class LambdaFilter(BaseFilter):
    """``filter_function(doc) -> bool``. In YAML give the name of a registered function."""

    name = "LambdaFilter"

    def __init__(
        self,
        filter_function: Callable[[Document], bool],
        exclusion_writer: PipelineStep | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        self.filter_function = filter_function

    def filter(self, doc: Document) -> bool:
        return bool(self.filter_function(doc))
