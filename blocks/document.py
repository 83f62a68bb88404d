"""The unit that flows through a pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Document:
    """A text with a stable id and free-form metadata.

    ``cache`` holds derived values (word splits, sentence splits, ...) that several blocks
    share so that each is computed once per document; it is keyed by the text it was
    computed from, never written out, and ignored by equality.
    """

    text: str
    id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


DocumentsPipeline = Any  # Iterable[Document] | None, kept loose for DataTrove-style signatures
