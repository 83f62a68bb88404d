"""Count tokens per document with a local HuggingFace ``tokenizers`` file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from blocks.base import PipelineStep
from blocks.document import Document
from blocks.models import load_tokenizer


def _batches(data: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(data)
    while batch := list(islice(it, size)):
        yield batch


def _clean(text: str) -> str:
    """Text the Rust side accepts: lone surrogates (from lossy decoding) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


class TokensCounter(PipelineStep):
    """Set ``metadata["token_count"]`` to the number of tokens of each document (DataTrove).

    ``tokenizer_name_or_path`` must be a local ``tokenizer.json`` (or a URL fsspec can
    read): shardyard never downloads from the Hugging Face Hub, so unlike DataTrove there
    is no ``"gpt2"`` default and a hub name is refused with a clear error. Counts are
    ``len(tokenizer.encode(text).ids)`` with the file's special tokens (its post-processor)
    included, plus one per document with ``count_eos_token``. Truncation and padding
    stored in the file are switched off, or every long document would count as the
    truncation length. Documents are encoded ``batch_size`` at a time (the Rust side
    spreads a batch over threads). Stats: ``tokens`` (sum, mean, min, max per document).
    """

    name = "TokensCounter"
    type = "tokenizer"
    _requires_dependencies = (("tokenizers", "tokens"),)

    def __init__(
        self,
        tokenizer_name_or_path: str,
        count_eos_token: bool = False,
        batch_size: int = 10000,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.tokenizer_name_or_path = tokenizer_name_or_path
        self.count_eos_token = count_eos_token
        self.batch_size = batch_size
        self._tokenizer: Any = None

    @property
    def tokenizer(self) -> Any:
        """The tokenizer, loaded on first use and shared by the blocks of this process."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.tokenizer_name_or_path, for_counting=True)
        return self._tokenizer

    def count(self, texts: list[str]) -> list[int]:
        """Token counts of ``texts`` (without the optional end-of-sequence token)."""
        tok = self.tokenizer
        # encode_batch_fast (tokenizers >= 0.20) skips the character offsets we do not need
        encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
        try:
            encoded = encode(texts)
        except (TypeError, UnicodeEncodeError):  # a lone surrogate somewhere in the batch
            encoded = encode([_clean(t) for t in texts])
        return [len(e.ids) for e in encoded]

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        extra = 1 if self.count_eos_token else 0
        for batch in _batches(data or (), self.batch_size):
            with self.track_time(unit="batch"):
                counts = self.count([doc.text for doc in batch])
            for doc, count in zip(batch, counts, strict=True):
                doc.metadata["token_count"] = count + extra
                self.stat_update("tokens", value=count + extra)
                yield doc
