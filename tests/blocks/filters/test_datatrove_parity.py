"""Our filters and formatters decide as DataTrove 0.10.1 does on real documents.

The expected decisions were recorded once by ``bench/record_datatrove_decisions.py`` under
DataTrove (tests/fixtures/datatrove/decisions_<name>.json); the documents are rebuilt here
from bench.realdata with the same ids. Each filter must agree on at least 99% of them;
the agreement actually reached is printed (``pytest -s``) and is 100% when this was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blocks.base import BaseFilter, BaseFormatter
from blocks.document import Document
from blocks.filters import (
    C4BadWordsFilter,
    C4ParagraphFilter,
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    URLFilter,
)
from blocks.formatters import FTFYFormatter, PIIFormatter, SymbolLinesFormatter
from tests.helpers import require

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "datatrove"
MIN_AGREEMENT = 0.99

pytestmark = pytest.mark.slow


def _filters() -> dict[str, Callable[[], BaseFilter]]:
    from bench.record_datatrove_decisions import BADWORDS_EN, URL_LISTS

    return {
        "GopherQualityFilter": GopherQualityFilter,
        "GopherRepetitionFilter": GopherRepetitionFilter,
        "C4QualityFilter": C4QualityFilter,
        "C4QualityFilter-no_terminal_punct": lambda: C4QualityFilter(
            filter_no_terminal_punct=False
        ),
        "C4ParagraphFilter": C4ParagraphFilter,
        "C4BadWordsFilter": lambda: C4BadWordsFilter(badwords=BADWORDS_EN),
        "FineWebQualityFilter": FineWebQualityFilter,
        "URLFilter": lambda: URLFilter(use_integrated_lists=False, **URL_LISTS),
    }


FORMATTERS: dict[str, Callable[[], BaseFormatter]] = {
    "PIIFormatter": PIIFormatter,
    "FTFYFormatter": FTFYFormatter,
    "SymbolLinesFormatter": SymbolLinesFormatter,
}
FILTER_NAMES = [
    "GopherQualityFilter",
    "GopherRepetitionFilter",
    "C4QualityFilter",
    "C4QualityFilter-no_terminal_punct",
    "C4ParagraphFilter",
    "C4BadWordsFilter",
    "FineWebQualityFilter",
    "URLFilter",
]


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    from bench import realdata
    from bench.record_datatrove_decisions import fixture_documents

    try:
        docs = fixture_documents()
    except realdata.RealDataError as err:  # no PyPI access on this machine
        require(False, f"real documents unavailable: {err}")
    return {d["id"]: d for d in docs}


def test_documents_are_the_recorded_ones(documents: dict[str, dict[str, Any]]) -> None:
    """A changed document means the fixtures must be re-recorded, not that a filter broke."""
    recorded = json.loads((FIXTURES / "decisions_documents.json").read_text(encoding="utf-8"))
    changed = [
        i
        for i, digest in recorded.items()
        if i not in documents or _sha1(documents[i]["text"]) != digest
    ]
    assert not changed, (
        f"{len(changed)} fixture documents differ from the recorded ones (e.g. {changed[:3]}): "
        "bench.realdata changed; re-run bench/record_datatrove_decisions.py record"
    )
    assert len(recorded) == len(documents)


def _expected(name: str) -> dict[str, list[Any]]:
    path = FIXTURES / f"decisions_{name}.json"
    assert path.is_file(), f"{path} is missing: run bench/record_datatrove_decisions.py record"
    data: dict[str, list[Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _report(name: str, agree: int, total: int, disagreements: list[str]) -> float:
    share = agree / total
    print(f"\n{name}: {agree}/{total} = {share:.4%} agreement with DataTrove 0.10.1")
    for line in disagreements[:10]:
        print("   ", line)
    return share


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_filter_decisions_match_datatrove(name: str, documents: dict[str, dict[str, Any]]) -> None:
    expected = _expected(name)
    missing = sorted(set(expected) - set(documents))
    assert not missing, f"fixture documents changed, ids not rebuilt: {missing[:5]}"
    block = _filters()[name]()
    agree = 0
    disagreements: list[str] = []
    for doc_id, rec in documents.items():  # in recording order: blocks may keep state
        want = expected.get(doc_id)
        if want is None:
            continue
        doc = Document(rec["text"], doc_id, dict(rec["metadata"]))
        verdict = block.filter(doc)
        got = [verdict[0], verdict[1]] if isinstance(verdict, tuple) else [bool(verdict), None]
        if got[0] and len(want) > 2:
            got.append(_sha1(doc.text))
        if got == want:
            agree += 1
        else:
            disagreements.append(f"{doc_id}: datatrove {want[:2]}, ours {got[:2]}")
    assert len(expected) > 100
    assert _report(name, agree, len(expected), disagreements) >= MIN_AGREEMENT, disagreements[:10]


@pytest.mark.parametrize("name", list(FORMATTERS))
def test_formatter_outputs_match_datatrove(name: str, documents: dict[str, dict[str, Any]]) -> None:
    expected = _expected(name)
    block = FORMATTERS[name]()
    agree = 0
    disagreements: list[str] = []
    # in recording order: the PII replacements are used in turn across documents
    for doc_id, rec in documents.items():
        changed, digest = expected[doc_id]
        text = rec["text"]
        out = block.format(text)
        if [out != text, _sha1(out)] == [changed, digest]:
            agree += 1
        else:
            disagreements.append(f"{doc_id}: changed datatrove={changed} ours={out != text}")
    assert sum(1 for v in expected.values() if v[0]) > 0, "no document exercises the formatter"
    assert _report(name, agree, len(expected), disagreements) >= MIN_AGREEMENT, disagreements[:10]
