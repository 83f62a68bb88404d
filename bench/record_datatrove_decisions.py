"""Record DataTrove 0.10.1's filter decisions on real documents, once, for the parity tests.

Run it with the DataTrove interpreter (bench/datatrove_env.sh makes it)::

    bench/.venv-datatrove/bin/python -m bench.record_datatrove_decisions record

It writes ``tests/fixtures/datatrove/decisions_<name>.json`` = ``{doc_id: [keep, reason]}``
for every filter with its default parameters (C4QualityFilter also with
``filter_no_terminal_punct=False``; C4 filters that rewrite kept text add the sha1 of the
text they kept as a third element), and ``{doc_id: [changed, sha1]}`` for the formatters.
The documents are NOT committed: :func:`fixture_documents` rebuilds them from
``bench.realdata`` (Lee news, newspaper4k texts, Wikipedia, text of the real HTML pages,
and line windows of the longer ones) with stable ids, and the tests call it too.

The same module measures throughput of GopherQualityFilter -> C4QualityFilter(
filter_no_terminal_punct=False) on the real texts, in one process, for either side::

    .venv/bin/python -m bench.record_datatrove_decisions bench --impl shardyard
    bench/.venv-datatrove/bin/python -m bench.record_datatrove_decisions bench --impl datatrove

Only the standard library and bench.realdata are imported at module level, so the tests
can import the document builder and the block lists below without DataTrove.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench import realdata

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "datatrove"

# URLFilter needs block lists; DataTrove's integrated ones are not ours to ship, so both
# sides get these (chosen so that some real URLs of the corpus hit each rule).
URL_LISTS: dict[str, Any] = {
    "extra_domains": ["nytimes.com", "theguardian.com", "bbc.co.uk", "example.invalid"],
    "extra_urls": ["https://en.wikipedia.org/wiki/Anarchism"],
    "banned_words": ["casino", "autism", "wiki2"],
    "banned_subwords": ["porn", "ponz", "algebr"],
    "soft_banned_words": ["news", "blog", "article", "politics", "html", "www"],
    "soft_word_threshold": 2,
}
# A small inline bad-words list for C4BadWordsFilter (DataTrove downloads the LDNOOBW
# lists; we cannot): words that occur in some real documents and not in others.
BADWORDS_EN = ["murder", "sex", "kill", "drugs", "terrorist", "bomb", "naked"]

_WINDOW_LINES = 12
_MAX_WINDOWS = 10
_MAX_PAGE_BYTES = 400_000


# --------------------------------------------------------------------------- documents

_DROP_BLOCKS = re.compile(
    r"(?is)<(script|style|noscript|template|svg|head)\b.*?</\1\s*>|<!--.*?-->"
)
_BREAKS = re.compile(
    r"(?i)</?(?:br|p|div|li|ul|ol|h[1-6]|tr|td|th|table|article|section|header|footer|nav"
    r"|blockquote|pre|dt|dd|title|form|main|aside|figure|figcaption)\b[^>]*>"
)
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[^\S\n]+")


def html_to_text(raw: bytes) -> str:
    """Plain text of an HTML page: block tags become line breaks, other tags vanish.

    Deliberately simple and dependency-free so the documents are the same under any
    interpreter; it keeps menus and footers, which is what web text filters face.
    """
    charset = realdata.html_charset(raw) or "utf-8"
    try:
        s = raw.decode(charset, errors="replace")
    except LookupError:
        s = raw.decode("utf-8", errors="replace")
    s = _DROP_BLOCKS.sub(" ", s)
    s = _BREAKS.sub("\n", s)
    s = html.unescape(_TAGS.sub(" ", s))
    lines = [_SPACES.sub(" ", line).strip() for line in s.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def fixture_documents(cache_dir: str | None = None) -> list[dict[str, Any]]:
    """The real documents the decisions are recorded on, in a fixed order with stable ids.

    Every text of ``realdata.text_documents``, the text of every real HTML page (at most
    400 kB), and up to 10 windows of 12 lines of the longer ones (``<id>#<k>``), which give
    many short and borderline documents.
    """
    docs: list[dict[str, Any]] = []
    for rec in realdata.text_documents(cache_dir):
        docs.append({"id": rec["id"], "text": rec["text"], "metadata": dict(rec["metadata"])})
    for page in realdata.html_pages(cache_dir):
        raw = page.read()
        if len(raw) > _MAX_PAGE_BYTES:
            continue
        text = html_to_text(raw)
        if text:
            docs.append(
                {
                    "id": f"html/{page.source}/{page.name}",
                    "text": text,
                    "metadata": {"source": page.source, "url": realdata.page_url(page, raw)},
                }
            )
    windows: list[dict[str, Any]] = []
    for doc in docs:
        lines = doc["text"].split("\n")
        if len(lines) <= _WINDOW_LINES:
            continue
        for k in range(0, min(len(lines), _WINDOW_LINES * _MAX_WINDOWS), _WINDOW_LINES):
            text = "\n".join(lines[k : k + _WINDOW_LINES]).strip()
            if text:
                windows.append(
                    {
                        "id": f"{doc['id']}#{k // _WINDOW_LINES}",
                        "text": text,
                        "metadata": dict(doc["metadata"]),
                    }
                )
    return docs + windows


_FUZZ_PIECES = (
    list("abcXYZ\xe9\xdf\u03a9\u0436\u0642\u0643\ud55c\u4e2d\u30fc0123456789")
    + list(
        ".,;:!?'\"()[]{}<>-\u2013\u2014~/\\=+*^%$\u20ac\xa3#@&_|\u2026\u2019\u2018\u201c\u201d\xab\xbb\xb0\xb2"
    )
    + ["n't", "'s", "...", "http://", "www.", ".com", "U.S.", "Mr.", "e.g.", "10am", ":)", "km"]
    + ["a.m.", "can't", "don't", "We'll", " ", " ", "  ", "\n", "\t"]
)


def tokenizer_fuzz_texts(count: int = 3000, seed: int = 20240101) -> list[str]:
    """Short random strings of letters, digits, punctuation and tricky pieces (contractions,
    abbreviations, URLs, emoticons, units): where a word splitter most easily drifts."""
    import random

    rng = random.Random(seed)
    return [
        "".join(rng.choice(_FUZZ_PIECES) for _ in range(rng.randint(1, 25))) for _ in range(count)
    ]


def record_tokenizer(out_dir: Path = FIXTURES) -> None:
    """``decisions_tokenizer.json`` = {index: [words, sentence lengths]} from DataTrove."""
    from datatrove.utils.text import split_into_sentences, split_into_words

    out = {
        f"{i:05d}": [split_into_words(t), [len(x) for x in split_into_sentences(t)]]
        for i, t in enumerate(tokenizer_fuzz_texts())
    }
    _write(out_dir / "decisions_tokenizer.json", out)


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- recording


def _datatrove_filters() -> dict[str, Callable[[], Any]]:
    from datatrove.pipeline.filters import (
        C4BadWordsFilter,
        C4ParagraphFilter,
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        URLFilter,
    )

    return {
        "GopherQualityFilter": GopherQualityFilter,
        "GopherRepetitionFilter": GopherRepetitionFilter,
        "C4QualityFilter": C4QualityFilter,
        "C4QualityFilter-no_terminal_punct": lambda: C4QualityFilter(
            filter_no_terminal_punct=False
        ),
        "C4ParagraphFilter": C4ParagraphFilter,
        "C4BadWordsFilter": C4BadWordsFilter,
        "FineWebQualityFilter": FineWebQualityFilter,
        "URLFilter": lambda: URLFilter(use_integrated_lists=False, **URL_LISTS),
    }


def _datatrove_formatters() -> dict[str, Callable[[], Any]]:
    from datatrove.pipeline.formatters import FTFYFormatter, PIIFormatter, SymbolLinesFormatter

    return {
        "PIIFormatter": PIIFormatter,
        "FTFYFormatter": FTFYFormatter,
        "SymbolLinesFormatter": SymbolLinesFormatter,
    }


def _patch_badwords(tmp: Path) -> None:
    """Point DataTrove's bad-words download at our inline list (no network here)."""
    import datatrove.pipeline.filters.c4_filters as c4

    path = tmp / "badwords_en.txt"
    path.write_text("\n".join(BADWORDS_EN) + "\n", encoding="utf-8")
    c4.cached_asset_path_or_download = lambda *a, **k: str(path)


def _patch_tldextract() -> None:
    """Make DataTrove's URLFilter use tldextract's bundled suffix list (it would fetch it)."""
    import functools

    import tldextract

    tldextract.TLDExtract = functools.partial(
        tldextract.TLDExtract, suffix_list_urls=(), cache_dir=None
    )  # type: ignore[misc]


def write_manifest(docs: list[dict[str, Any]], out_dir: Path = FIXTURES) -> None:
    """``decisions_documents.json`` = {doc_id: sha1 of its text}: lets the tests tell a
    changed document (re-record) from a changed decision (a regression)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / "decisions_documents.json", {d["id"]: sha1(d["text"]) for d in docs})


def record(out_dir: Path = FIXTURES) -> None:
    """Run DataTrove on every fixture document and write the decision files."""
    import tempfile

    from datatrove.data import Document

    docs = fixture_documents()
    write_manifest(docs, out_dir)
    record_tokenizer(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        _patch_badwords(Path(tmp))
        _patch_tldextract()
        for name, make in _datatrove_filters().items():
            block = make()
            decisions: dict[str, list[Any]] = {}
            start = time.perf_counter()
            for rec in docs:
                if name == "URLFilter" and not rec["metadata"].get("url"):
                    continue
                doc = Document(text=rec["text"], id=rec["id"], metadata=dict(rec["metadata"]))
                verdict = block.filter(doc)
                keep, reason = (
                    (verdict[0], verdict[1])
                    if isinstance(verdict, tuple)
                    else (bool(verdict), None)
                )
                entry: list[Any] = [bool(keep), reason]
                if name.startswith("C4QualityFilter") and keep:
                    entry.append(sha1(doc.text))
                decisions[rec["id"]] = entry
            _write(out_dir / f"decisions_{name}.json", decisions)
            kept = sum(1 for v in decisions.values() if v[0])
            print(f"{name}: {kept}/{len(decisions)} kept in {time.perf_counter() - start:.1f}s")
    for name, make in _datatrove_formatters().items():
        block = make()
        outputs = {}
        for rec in docs:
            new = block.format(rec["text"])
            outputs[rec["id"]] = [new != rec["text"], sha1(new)]
        _write(out_dir / f"decisions_{name}.json", outputs)
        print(f"{name}: {sum(v[0] for v in outputs.values())}/{len(outputs)} changed")


def _write(path: Path, data: dict[str, Any]) -> None:
    """One entry per line, sorted: small diffs when a decision changes."""
    lines = [
        f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(data.items())
    ]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


# --------------------------------------------------------------------------- throughput


def _chain(impl: str) -> Callable[[Iterable[tuple[str, str]]], int]:
    """GopherQualityFilter -> C4QualityFilter(filter_no_terminal_punct=False) as one function."""
    if impl == "datatrove":
        from datatrove.data import Document as DTDocument
        from datatrove.pipeline.filters import C4QualityFilter as DTC4
        from datatrove.pipeline.filters import GopherQualityFilter as DTGopher

        def make(text: str, doc_id: str) -> Any:
            return DTDocument(text=text, id=doc_id)

        gopher: Any = DTGopher()
        c4: Any = DTC4(filter_no_terminal_punct=False)
    else:
        from blocks.document import Document
        from blocks.filters import C4QualityFilter, GopherQualityFilter

        def make(text: str, doc_id: str) -> Any:
            return Document(text=text, id=doc_id)

        gopher = GopherQualityFilter()
        c4 = C4QualityFilter(filter_no_terminal_punct=False)

    def run(docs: Iterable[tuple[str, str]]) -> int:
        kept = 0
        for doc_id, text in docs:
            doc = make(text, doc_id)
            v = gopher.filter(doc)
            if (v[0] if isinstance(v, tuple) else v) is False:
                continue
            v = c4.filter(doc)
            if (v[0] if isinstance(v, tuple) else v) is not False:
                kept += 1
        return kept

    return run


def _word_splitter(impl: str) -> Callable[[Iterable[tuple[str, str]]], int]:
    """English word splitting alone: DataTrove's spaCy tokenizer or blocks.text."""
    if impl == "datatrove":
        from datatrove.utils.text import split_into_words as split
    else:
        from blocks.text import split_words as split

    def run(docs: Iterable[tuple[str, str]]) -> int:
        return sum(len(split(text)) for _, text in docs)

    return run


def bench(impl: str, repeat: int = 3, what: str = "chain") -> dict[str, Any]:
    """Docs/s and MB/s over the real texts (best of ``repeat``) of the Gopher -> C4 chain
    (``what="chain"``) or of word splitting alone (``what="words"``)."""
    docs = [(d["id"], d["text"]) for d in fixture_documents()]
    mb = sum(len(t.encode("utf-8")) for _, t in docs) / 1e6
    run = _chain(impl) if what == "chain" else _word_splitter(impl)
    run(docs[:50])  # warm up: imports, tokenizer construction
    best = best_cpu = float("inf")
    first_cpu = 0.0
    kept = 0
    for i in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        kept = run(docs)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        if i == 0:  # the first pass pays for filling the tokenizer caches
            first_cpu = time.process_time() - start_cpu
    # CPU time is reported too: on a shared machine it is the steadier measure.
    return {
        "impl": impl,
        "what": what,
        "documents": len(docs),
        "MB": round(mb, 2),
        "kept" if what == "chain" else "words": kept,
        "wall_s": round(best, 3),
        "cpu_s": round(best_cpu, 3),
        "docs_per_s": round(len(docs) / best, 1),
        "MB_per_s": round(mb / best, 3),
        "docs_per_cpu_s": round(len(docs) / best_cpu, 1),
        "MB_per_cpu_s": round(mb / best_cpu, 3),
        "first_pass_MB_per_cpu_s": round(mb / first_cpu, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.record_datatrove_decisions", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser(
        "record", help="write tests/fixtures/datatrove/decisions_*.json (DataTrove venv)"
    )
    rec.add_argument("--out", type=Path, default=FIXTURES)
    rec.add_argument("--only-tokenizer", action="store_true", help="only decisions_tokenizer.json")
    b = sub.add_parser(
        "bench", help="throughput of Gopher -> C4 (or word splitting) on the real texts"
    )
    b.add_argument("--impl", choices=("shardyard", "datatrove"), default="shardyard")
    b.add_argument("--repeat", type=int, default=3)
    b.add_argument("--what", choices=("chain", "words"), default="chain")
    args = parser.parse_args(argv)
    if args.cmd == "record" and args.only_tokenizer:
        record_tokenizer(args.out)
    elif args.cmd == "record":
        record(args.out)
    else:
        print(json.dumps(bench(args.impl, args.repeat, args.what)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
