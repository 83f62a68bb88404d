"""Resiliparse on real pages: sandboxed and in-process give resiliparse's own output."""

from __future__ import annotations

import pytest

from blocks.document import Document
from blocks.extractors import Resiliparse

pytest.importorskip("resiliparse")


def test_real_pages_sandboxed_equal_the_library_call(real_pages: list[tuple[str, str]]) -> None:
    from resiliparse.extract.html2text import extract_plain_text

    pages = real_pages[::6]
    block = Resiliparse(timeout=30)
    out = {d.id: d.text for d in block.run([Document(h, n) for n, h in pages])}
    expected = {}
    for name, html in pages:
        text = extract_plain_text(
            html,
            main_content=True,
            comments=False,
            preserve_formatting=True,
            list_bullets=True,
            alt_texts=False,
            links=False,
            form_fields=False,
            noscript=False,
        ).strip()
        if text:
            expected[name] = text
    assert out == expected
    assert len(out) >= 25
    stats = block.stats.stats
    assert stats["total"].n == stats["extracted"].n == len(pages)
    assert block.sandbox_starts == 1


def test_options_change_the_output_and_in_process_mode_agrees(
    real_pages: list[tuple[str, str]],
) -> None:
    pages = [Document(h, n) for n, h in real_pages[:8]]
    main = [
        d.text
        for d in Resiliparse(sandbox=False, timeout=30).run(Document(d.text, d.id) for d in pages)
    ]
    full = [
        d.text
        for d in Resiliparse(main_content=False, timeout=30).run(
            Document(d.text, d.id) for d in pages
        )
    ]
    assert sum(len(t) for t in full) > sum(len(t) for t in main)
    boxed = [d.text for d in Resiliparse(timeout=30).run(Document(d.text, d.id) for d in pages)]
    assert boxed == main
    skipped = Resiliparse(main_content=False, skip_elements=["p"], timeout=30)
    assert sum(len(d.text) for d in skipped.run(Document(d.text, d.id) for d in pages)) < sum(
        len(t) for t in full
    )
