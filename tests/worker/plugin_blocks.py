"""Blocks for worker tests, loaded by real workers with ``--plugins tests.worker.plugin_blocks``.

They make shards slow, failing or observable (``RunMarker`` appends one line per shard
execution to a file, so a test can count how often a shard's body really ran).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator

from blocks.base import PipelineStep
from blocks.document import Document


class SyntheticReader(PipelineStep):
    """``count`` documents per rank with ids ``<rank>-<i>`` and a known text."""

    type = "reader"

    def __init__(self, count: int = 10, text: str = "lorem ipsum") -> None:
        super().__init__()
        self.count = count
        self.text = text

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for i in range(self.count):
            self.stat_update("documents")
            yield Document(f"{self.text} {rank} {i}", f"{rank}-{i}", {"rank": rank})


class SlowPass(PipelineStep):
    """Sleeps ``delay`` seconds per document (a shard long enough to kill mid-way)."""

    type = "step"

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        self.delay = delay

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for doc in data or ():
            time.sleep(self.delay)
            self.stat_update("passed")
            yield doc


class FailOnRanks(PipelineStep):
    """Raises on the first document of the listed ranks (all ranks when ``ranks`` is empty),
    until the attempt number reaches ``until_attempt`` (0: always)."""

    type = "step"

    def __init__(self, ranks: list[int] | None = None, until_attempt: int = 0) -> None:
        super().__init__()
        self.ranks = list(ranks or [])
        self.until_attempt = until_attempt

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        failing = not self.ranks or rank in self.ranks
        if self.until_attempt and self.ctx.attempt >= self.until_attempt:
            failing = False
        for doc in data or ():
            if failing:
                raise RuntimeError(f"planned failure of rank {rank} attempt {self.ctx.attempt}")
            yield doc


class RunMarker(PipelineStep):
    """Appends ``<stage> <rank> <attempt> <pid>`` to ``<folder>/runs.log`` when a shard
    starts, so tests count real executions across processes."""

    type = "step"

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        os.makedirs(self.folder, exist_ok=True)
        line = f"{self.ctx.stage} {rank} {self.ctx.attempt} {os.getpid()}\n"
        fd = os.open(os.path.join(self.folder, "runs.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        yield from data or ()
