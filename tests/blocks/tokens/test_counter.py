"""TokensCounter and LengthCounter with real local tokenizer.json files, on real texts."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from blocks.document import Document
from blocks.errors import ShardyardError
from blocks.models import ModelError
from blocks.pipeline import run_pipeline
from blocks.spec import PipelineSpec, build_pipeline
from blocks.tokens import LengthCounter, TokensCounter
from tests.helpers import require

tokenizers = pytest.importorskip("tokenizers")


@functools.lru_cache(maxsize=1)
def real_data() -> Path:
    try:
        from bench.realdata import RealDataError, ensure_sources

        return ensure_sources(keys=("anthropic", "minilm", "gensim", "chardet"))
    except (ImportError, RealDataError, OSError) as err:
        require(False, f"real tokenizers/texts unavailable: {err}")
        raise AssertionError("unreachable") from err


def tokenizer_file(name: str) -> str:
    return str(real_data() / "tokenizers" / f"{name}.json")


@functools.lru_cache(maxsize=1)
def texts() -> tuple[str, ...]:
    """Real news articles (Lee corpus) and real multilingual UTF-8 pages (chardet's)."""
    root = real_data()
    news = (root / "news" / "lee_background.cor").read_text(encoding="utf-8", errors="replace")
    rows = [line for line in news.splitlines() if line.strip()][:80]
    rows += [p.read_text(encoding="utf-8") for p in sorted((root / "chardet" / "utf-8").iterdir())]
    return tuple(rows)


def docs() -> list[Document]:
    return [Document(t, f"d{i}") for i, t in enumerate(texts())]


@pytest.mark.parametrize("name", ["anthropic", "minilm"])
def test_counts_equal_direct_tokenizers_encoding(name: str) -> None:
    direct = tokenizers.Tokenizer.from_file(tokenizer_file(name))
    direct.no_truncation()
    direct.no_padding()
    expected = [len(direct.encode(t).ids) for t in texts()]
    block = TokensCounter(tokenizer_file(name), batch_size=64)
    out = list(block.run(docs()))
    assert [d.metadata["token_count"] for d in out] == expected
    assert [d.id for d in out] == [f"d{i}" for i in range(len(texts()))]
    tokens = block.stats.stats["tokens"]
    assert (tokens.n, tokens.total, tokens.max) == (len(expected), sum(expected), max(expected))
    assert block.stats.time.n == -(-len(expected) // 64)  # one timing per batch


def test_file_truncation_is_ignored_when_counting() -> None:
    # The WordPiece file truncates at 128 tokens; a count must not.
    as_shipped = tokenizers.Tokenizer.from_file(tokenizer_file("minilm"))
    long_text = max(texts(), key=len)
    assert len(as_shipped.encode(long_text).ids) == 128
    (doc,) = TokensCounter(tokenizer_file("minilm")).run([Document(long_text, "long")])
    assert doc.metadata["token_count"] > 1000


def test_eos_token_and_batch_size_do_not_change_the_counts() -> None:
    path = tokenizer_file("anthropic")
    plain = [d.metadata["token_count"] for d in TokensCounter(path, batch_size=1000).run(docs())]
    small = [d.metadata["token_count"] for d in TokensCounter(path, batch_size=7).run(docs())]
    eos = [
        d.metadata["token_count"]
        for d in TokensCounter(path, count_eos_token=True, batch_size=50).run(docs())
    ]
    assert plain == small and eos == [n + 1 for n in plain]


def test_streams_batch_by_batch() -> None:
    pulled = 0

    def source() -> Iterator[Document]:
        nonlocal pulled
        for doc in docs():
            pulled += 1
            yield doc

    stream = TokensCounter(tokenizer_file("anthropic"), batch_size=3).run(source())
    next(stream)
    assert pulled == 3


def test_lone_surrogates_are_counted_not_fatal() -> None:
    block = TokensCounter(tokenizer_file("anthropic"))
    out = list(block.run([Document("caf\udce9 au lait", "bad"), Document("café au lait", "ok")]))
    assert [d.metadata["token_count"] > 0 for d in out] == [True, True]


def test_hub_names_are_refused_clearly(tmp_path: Path) -> None:
    block = TokensCounter("gpt2")
    with pytest.raises(ModelError, match="never downloads"):
        list(block.run([Document("hello", "a")]))
    junk = tmp_path / "tokenizer.json"
    junk.write_text("{not json")
    with pytest.raises(ModelError, match=r"not a tokenizer\.json"):
        list(TokensCounter(str(junk)).run([Document("hello", "a")]))
    with pytest.raises(ValueError):
        TokensCounter(tokenizer_file("anthropic"), batch_size=0)


def test_length_counter_histogram_after_tokens_counter() -> None:
    counter = TokensCounter(tokenizer_file("anthropic"))
    lengths = LengthCounter()
    every = docs()
    stats = run_pipeline([every, counter, lengths])
    histogram = {name: stat.n for name, stat in stats.blocks[2].stats.items()}
    assert histogram == {
        str(k): v for k, v in Counter(d.metadata["token_count"] for d in every).items()
    }
    with pytest.raises(ShardyardError, match="TokensCounter"):
        list(LengthCounter().run([Document("no count", "x")]))


def test_builds_from_a_yaml_spec() -> None:
    spec = PipelineSpec.from_dict(
        {
            "name": "tok",
            "stages": [
                {
                    "name": "s",
                    "tasks": 1,
                    "pipeline": [
                        {
                            "TokensCounter": {
                                "tokenizer_name_or_path": "/x/tokenizer.json",
                                "count_eos_token": True,
                            }
                        },
                        {"LengthCounter": {}},
                    ],
                }
            ],
        }
    )
    counter, lengths = build_pipeline(spec.stages[0])
    assert isinstance(counter, TokensCounter) and counter.count_eos_token
    assert isinstance(lengths, LengthCounter)
