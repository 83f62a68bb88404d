"""Trafilatura: main-content text from HTML, DataTrove's default extractor."""

from __future__ import annotations

from typing import Any

from blocks.extractors.base import SandboxedExtractor


class Trafilatura(SandboxedExtractor):
    """``trafilatura.extract`` with DataTrove's settings, in a sandbox child process.

    Defaults are DataTrove 0.10.1's: ``favour_precision=True``, ``include_comments=False``,
    ``deduplicate=True`` and a 1 s ``timeout`` per document. Extra keyword arguments go
    to ``trafilatura.extract`` unchanged (``include_tables``, ``target_language``, ...).

    ``deduplicate=True`` makes trafilatura drop paragraphs it has already seen several
    times in *this process* (an LRU cache inside trafilatura). The sandbox keeps one
    child per shard, so the result depends on which documents share a shard and in what
    order, exactly as with DataTrove's per-task child; a timeout or crash restarts the
    child and clears the cache. Set ``deduplicate=False`` for shard-independent output.

    ``include_images`` exists for DataTrove compatibility; as there, True is refused.
    """

    name = "Trafilatura"
    _requires_dependencies = (("trafilatura", "processing"), ("lxml_html_clean", "processing"))

    def __init__(
        self,
        favour_precision: bool = True,
        include_images: bool = False,
        timeout: float = 1.0,
        deduplicate: bool = True,
        *,
        sandbox: bool = True,
        memory_limit_mb: int | None = None,
        startup_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            timeout,
            sandbox=sandbox,
            memory_limit_mb=memory_limit_mb,
            startup_timeout=startup_timeout,
        )
        if include_images:
            raise NotImplementedError("Trafilatura(include_images=True) is not supported")
        reserved = {"favor_precision", "include_comments", "deduplicate"} & set(kwargs)
        if reserved:
            raise ValueError(
                f"Trafilatura sets {sorted(reserved)} itself; use favour_precision / deduplicate"
            )
        self.favour_precision = favour_precision
        self.include_images = include_images
        self.deduplicate = deduplicate
        self.kwargs = kwargs

    def extract(self, text: str) -> str:
        """Main text of one HTML page ('' when trafilatura finds none)."""
        from trafilatura import extract

        result = extract(
            text,
            favor_precision=self.favour_precision,
            include_comments=False,
            deduplicate=self.deduplicate,
            **self.kwargs,
        )
        return result or ""
