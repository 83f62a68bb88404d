"""FineWebQualityFilter and URLFilter on hand-made documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from blocks.base import BaseFilter
from blocks.document import Document
from blocks.filters import FineWebQualityFilter, URLFilter
from blocks.filters.url_filter import literal_alternation, normalize

PARAGRAPHS = [
    "The river has shaped the history of the valley for many centuries now.",
    "Farmers planted wheat on the plains, and traders carried it to the coast.",
    "Today the old warehouses have been turned into shops, cafes and a museum.",
]


def test_fineweb_keeps_prose() -> None:
    assert FineWebQualityFilter().filter(Document("\n".join(PARAGRAPHS), "d")) is True


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\n \n\t\n", "empty"),
        (
            "\n".join(["Home", "About the company and its long history", "Contact us by mail"] * 3),
            "line_punct_ratio",
        ),
        (
            "\n".join([*PARAGRAPHS, "Home.", "News.", "Shop.", "Blog.", "Jobs.", "Help.", "Team."]),
            "short_line_ratio",
        ),
        ("\n".join([*PARAGRAPHS, PARAGRAPHS[0]]), "char_dup_ratio"),
        # long lines of two words each: 9 line breaks for 20 words
        (
            "\n".join(f"Internationalization{i}counterrevolutionaries." for i in range(10)),
            "list_ratio",
        ),
    ],
)
def test_fineweb_reasons(text: str, reason: str) -> None:
    assert FineWebQualityFilter().filter(Document(text, "d")) == (False, reason)


def test_fineweb_options() -> None:
    no_stop = "\n".join(p.rstrip(".") for p in PARAGRAPHS)
    assert FineWebQualityFilter().filter(Document(no_stop, "d")) == (False, "line_punct_ratio")
    assert FineWebQualityFilter(line_punct_exclude_zero=True).filter(Document(no_stop, "d")) is True
    assert FineWebQualityFilter(stop_chars=("now", "museum")).filter(Document(no_stop, "d")) is True


URL_LISTS = {
    "extra_domains": ["blocked.com", "sub.example.org"],
    "extra_urls": ["https://ok.net/exact/page"],
    "banned_words": ["casino"],
    "banned_subwords": ["porn", "xxx"],
    "soft_banned_words": ["bet", "poker", "win"],
}


@pytest.mark.parametrize(
    ("url", "verdict"),
    [
        ("https://www.blocked.com/anything", (False, "domain")),
        ("https://sub.example.org/page", (False, "subdomain")),
        ("https://other.example.org/page", True),
        ("https://ok.net/exact/page", (False, "url")),
        ("https://ok.net/exact/page2", True),
        ("https://ok.net/best-casino-offers", (False, "hard_blacklisted")),
        ("https://ok.net/casinos", True),  # banned words match whole URL words only
        ("https://ok.net/bet/and/win", (False, "soft_blacklisted")),
        ("https://ok.net/just-bet", True),
        ("https://ok.net/PoRnHub-clone", (False, "blacklisted_subword")),
        ("https://ok.net/x-x-x", (False, "blacklisted_subword")),  # normalized: "xxx"
        ("https://ok.net/news/today", True),
    ],
)
def test_url_filter_reasons(url: str, verdict: bool | tuple[bool, str]) -> None:
    block = URLFilter(use_integrated_lists=False, **URL_LISTS)
    assert block.filter(Document("text", "d", {"url": url})) == verdict


def test_url_filter_lists_from_files_and_lists_dir(tmp_path: Path) -> None:
    (tmp_path / "domains").write_text("# comment\nblocked.com\n")
    (tmp_path / "urls").write_text("")
    (tmp_path / "banned_words.txt").write_text("Ca-Sino\n")
    (tmp_path / "banned_subwords.txt").write_text("porn\n")
    (tmp_path / "soft_banned_words.txt").write_text("bet\nwin\n")
    block = URLFilter(lists_dir=str(tmp_path))
    assert block.filter(Document("t", "d", {"url": "http://blocked.com/x"})) == (False, "domain")
    assert block.filter(Document("t", "d", {"url": "http://a.com/casino"})) == (
        False,
        "hard_blacklisted",
    )
    own = URLFilter(use_integrated_lists=False, extra_domains=str(tmp_path / "domains"))
    assert own.block_listed_domains == {"blocked.com"}


def test_url_filter_errors() -> None:
    with pytest.raises(ValueError, match="does not ship"):
        URLFilter(extra_domains=["a.com"])
    with pytest.raises(ValueError, match="no block list"):
        URLFilter(use_integrated_lists=False)
    block = URLFilter(use_integrated_lists=False, extra_domains=["a.com"])
    assert isinstance(block, BaseFilter)
    kept = list(block.run([Document("t", "no-url")]))
    assert kept == []
    assert block.stats.stats["error_missing_url"].total == 1


def test_url_helpers() -> None:
    assert normalize("Hello, World-2!") == "helloworld2"
    import re

    rx = re.compile(literal_alternation(["porn", "pornography", "abc", "ab"]))
    assert rx.search("xxpornyy") and rx.search("zab") and not rx.search("por-n")
