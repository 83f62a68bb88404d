"""Histogram of document lengths in tokens, read from ``metadata["token_count"]``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from blocks.base import PipelineStep
from blocks.document import Document
from blocks.errors import ShardyardError


class LengthCounter(PipelineStep):
    """Count documents per token length, after a TokensCounter (or a tokenizer) step.

    As DataTrove: one stat per distinct length, named by the length (``"523"``), whose
    count is the number of documents of that length; documents pass unchanged. Mergeable
    like every stat, so the histogram of a whole run is exact. It makes stats.json large.
    """

    name = "LengthCounter"
    type = "tokenizer"

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for doc in data or ():
            try:
                count = doc.metadata["token_count"]
            except KeyError:
                raise ShardyardError(
                    f"LengthCounter: document {doc.id} has no metadata['token_count']; "
                    "put a TokensCounter before it"
                ) from None
            self.stat_update(str(int(count)))
            yield doc
