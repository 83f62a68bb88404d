"""Keep a random share of the documents."""

from __future__ import annotations

import random

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document


class SamplerFilter(BaseFilter):
    """Keep each document with probability ``rate``; ``seed`` makes the choice repeatable.

    The generator is seeded per shard (seed, rank), so a re-run of a shard keeps the same
    documents.
    """

    name = "SamplerFilter"

    def __init__(
        self,
        rate: float = 0.5,
        seed: int | None = None,
        exclusion_writer: PipelineStep | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], got {rate}")
        self.rate = rate
        self.seed = seed
        self._rng: random.Random | None = None

    def filter(self, doc: Document) -> bool:
        if self._rng is None:
            self._rng = random.Random(None if self.seed is None else f"{self.seed}:{self.ctx.rank}")
        return self._rng.random() < self.rate
