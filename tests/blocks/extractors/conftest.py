"""Real HTML pages (trafilatura's and htmldate's test caches) fetched through bench.realdata."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import require


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


@pytest.fixture(scope="session")
def real_pages() -> list[tuple[str, str]]:
    """(name, html) of every real page, sorted; skipped (failed under CI) when unavailable."""
    try:
        from bench.realdata import RealDataError, ensure_sources

        cache = ensure_sources(keys=("trafilatura", "htmldate", "newspaper"))
    except (ImportError, RealDataError, OSError) as err:
        require(False, f"real HTML pages unavailable: {err}")
        raise AssertionError("unreachable") from err
    pages = sorted(Path(cache, "html").glob("*/*.html"))
    wanted = {"trafilatura", "htmldate", "newspaper"}
    return [
        (f"{p.parent.name}/{p.name}", _decode(p.read_bytes()))
        for p in pages
        if p.parent.name in wanted
    ]
