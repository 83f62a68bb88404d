"""Base of the HTML extractors: ``extract(html) -> text`` run in a sandbox child process.

Subclass :class:`SandboxedExtractor` and implement ``extract``; the base runs it in an
:class:`~blocks.extractors.sandbox.ExtractorSandbox` so that a page that hangs or kills
the interpreter costs that page only. Stats follow DataTrove's extractors: ``total``,
``extracted``, ``timeout``, ``broken_process`` (the child died: segfault, ``os._exit``,
OOM kill or ``memory_limit_mb`` exceeded), ``clean_error`` (``extract`` raised),
``forwarded`` and ``dropped`` (empty result). The block's time is the extraction time
measured inside the child.

One child serves a whole shard (``run``): extractors that keep per-process state, like
trafilatura's ``deduplicate`` cache, therefore see the shard's documents in order, as
DataTrove's per-task child does. A timeout or a crash restarts the child and so empties
that state, as in DataTrove.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from typing import ClassVar

from blocks.base import BaseExtractor
from blocks.document import Document
from blocks.extractors.sandbox import ExtractorSandbox, Outcome, SandboxError

log = logging.getLogger(__name__)


class SandboxedExtractor(BaseExtractor):
    """An extractor whose ``extract`` runs in a child process with a per-document timeout.

    ``timeout``: seconds one document may take (DataTrove's default is 1 s).
    ``sandbox``: False runs ``extract`` in this process (no timeout, no crash isolation);
    meant for debugging and for extractors proven safe.
    ``memory_limit_mb``: address-space limit (RLIMIT_AS) of the child; a document that
    needs more costs that document (``broken_process``) instead of the worker. A warm
    Trafilatura child uses about 100 MiB, a Resiliparse one about 35 MiB.
    ``startup_timeout``: seconds the child may take to import and warm up.

    The child rebuilds the block from ``spec_params``, so the parameters must be JSON
    values, as in any spec.
    """

    # Passed to ``extract`` once in the child before the first document (lazy imports).
    warmup_text: ClassVar[str] = ""
    # Documents written ahead to the child: it extracts the next one while the parent
    # runs the rest of the pipeline. 1 disables the overlap.
    max_in_flight: ClassVar[int] = 2

    def __init__(
        self,
        timeout: float = 1.0,
        *,
        sandbox: bool = True,
        memory_limit_mb: int | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        super().__init__()
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if memory_limit_mb is not None and memory_limit_mb <= 0:
            raise ValueError(f"memory_limit_mb must be > 0, got {memory_limit_mb}")
        self.timeout = float(timeout)
        self.sandbox = sandbox
        self.memory_limit_mb = memory_limit_mb
        self.startup_timeout = float(startup_timeout)
        self.sandbox_starts = 0  # children started by the last run (1 + restarts)
        self._warned_error = False

    def make_sandbox(self) -> ExtractorSandbox:
        """A sandbox that rebuilds this block in the child from its constructor parameters."""
        cls = type(self)
        if "<locals>" in cls.__qualname__:
            raise SandboxError(
                f"{cls.__qualname__} must be defined at module level to be rebuilt in the sandbox"
            )
        return ExtractorSandbox(
            cls.__module__,
            cls.__qualname__,
            dict(self.spec_params),
            timeout=self.timeout,
            startup_timeout=self.startup_timeout,
            memory_limit_mb=self.memory_limit_mb,
            max_in_flight=self.max_in_flight,
        )

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        if not self.sandbox:
            yield from self._run_in_process(data)
            return
        pending: deque[Document] = deque()
        box = self.make_sandbox()
        try:
            for doc in data or ():
                self.stat_update("total")
                pending.append(doc)
                box.submit(doc.text)
                if len(pending) >= self.max_in_flight:
                    yield from self._settle(pending.popleft(), box.next_outcome())
            while pending:
                yield from self._settle(pending.popleft(), box.next_outcome())
        finally:
            self.sandbox_starts = box.starts
            box.close()

    def _run_in_process(self, data: Iterable[Document] | None) -> Iterator[Document]:
        for doc in data or ():
            self.stat_update("total")
            try:
                with self.track_time():
                    text = self.extract(doc.text)
            except Exception as err:
                outcome = Outcome("error", error=f"{type(err).__name__}: {err}")
            else:
                outcome = Outcome("ok", text or "")
            yield from self._settle(doc, outcome, timed=False)

    def _settle(self, doc: Document, outcome: Outcome, *, timed: bool = True) -> Iterator[Document]:
        if timed and outcome.seconds is not None:
            self.stats.time.update(outcome.seconds, "s")
        if outcome.kind == "timeout":
            self.stat_update("timeout")
            log.warning(
                "extraction timed out after %.2f s: skipping document %s", self.timeout, doc.id
            )
            return
        if outcome.kind == "broken":
            self.stat_update("broken_process")
            log.warning("extractor process died on document %s: restarting it", doc.id)
            return
        if outcome.kind == "error":
            self.stat_update("clean_error")
            if not self._warned_error:
                log.warning(
                    "extraction error %r: skipping document %s (said once)", outcome.error, doc.id
                )
                self._warned_error = True
            return
        self.stat_update("extracted")
        doc.text = outcome.text
        doc.cache.clear()
        if doc.text:
            self.stat_update("forwarded")
            self.update_doc_stats(doc)
            yield doc
        else:
            self.stat_update("dropped")
