"""Trafilatura on real pages: same text as a bare trafilatura.extract, in a sandbox child."""

from __future__ import annotations

import pytest

from blocks.document import Document
from blocks.extractors import Trafilatura
from blocks.spec import PipelineSpec, build_pipeline
from tests.blocks.extractors.faulty import _HangingTrafilatura

pytest.importorskip("trafilatura")


def bare(html: str, *, deduplicate: bool) -> str:
    from trafilatura import extract

    return (
        extract(html, favor_precision=True, include_comments=False, deduplicate=deduplicate) or ""
    )


@pytest.mark.slow  # a trafilatura child takes ~1 s to import
def test_matches_bare_trafilatura_on_real_pages(real_pages: list[tuple[str, str]]) -> None:
    pages = real_pages[::12][:12]
    block = Trafilatura(deduplicate=False, timeout=60)  # no timeouts on a loaded machine
    out = {d.id: d.text for d in block.run([Document(html, name) for name, html in pages])}
    expected = {name: bare(html, deduplicate=False) for name, html in pages}
    assert out == {name: text for name, text in expected.items() if text}
    assert sum(1 for t in expected.values() if t) >= 10  # real pages, real text
    stats = block.stats.stats
    assert stats["total"].n == stats["extracted"].n == len(pages)
    assert stats["forwarded"].n == len(out)
    assert block.sandbox_starts == 1


@pytest.mark.slow
def test_deduplicate_cache_lives_for_one_shard(real_pages: list[tuple[str, str]]) -> None:
    name, html = next((n, h) for n, h in real_pages if n.endswith("befifty.montauk.html"))
    copies = [Document(html, f"{name}#{i}") for i in range(4)]
    first_shard = [d.text for d in Trafilatura(timeout=60).run(copies)]
    # trafilatura drops paragraphs it has already seen several times in this process
    assert first_shard[0] == first_shard[1] and first_shard[3] != first_shard[0]
    # a new shard gets a new child and an empty cache: same text as the first copy
    second_shard = [d.text for d in Trafilatura(timeout=60).run([Document(html, "again")])]
    assert second_shard == [first_shard[0]]
    assert first_shard[0] == bare(html, deduplicate=False)


@pytest.mark.slow
def test_hanging_page_times_out_and_the_shard_goes_on(real_pages: list[tuple[str, str]]) -> None:
    pages = [*real_pages[:2], ("hang", "<html><!--HANG--></html>"), *real_pages[2:4]]
    block = _HangingTrafilatura(timeout=5.0, deduplicate=False)
    out = list(block.run([Document(html, name) for name, html in pages]))
    expected = [(n, bare(h, deduplicate=False)) for n, h in pages if n != "hang"]
    assert [(d.id, d.text) for d in out] == [(n, t) for n, t in expected if t]
    stats = block.stats.stats
    assert stats["timeout"].n == 1 and stats["extracted"].n == 4
    assert block.sandbox_starts == 2


def test_parameters_validate_and_build_from_a_spec() -> None:
    spec = PipelineSpec.from_dict(
        {
            "name": "x",
            "stages": [
                {
                    "name": "s",
                    "tasks": 1,
                    "pipeline": [{"Trafilatura": {"timeout": 0.5, "include_tables": False}}],
                }
            ],
        }
    )
    (block,) = build_pipeline(spec.stages[0])
    assert isinstance(block, Trafilatura)
    assert block.timeout == 0.5 and block.kwargs == {"include_tables": False}
    assert block.favour_precision and block.deduplicate
    with pytest.raises(NotImplementedError):
        Trafilatura(include_images=True)
    with pytest.raises(ValueError, match="favour_precision"):
        Trafilatura(favor_precision=False)
    with pytest.raises(ValueError, match="timeout"):
        Trafilatura(timeout=0)
