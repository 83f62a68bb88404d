"""Drop documents by their URL: block-listed domains and URLs, banned words and sub-words."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from blocks.base import BaseFilter, PipelineStep
from blocks.document import Document
from blocks.errors import DocumentError
from blocks.filters.c4_badwords import read_word_list

_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]+")

WordList = str | Iterable[str]
# One domain splitter per process: parsing the suffix list takes about a second.
_EXTRACTOR: Any = None
# File names of DataTrove's integrated lists, for ``lists_dir``.
INTEGRATED_FILES = {
    "domains": "domains",
    "urls": "urls",
    "banned_words": "banned_words.txt",
    "banned_subwords": "banned_subwords.txt",
    "soft_banned_words": "soft_banned_words.txt",
}


def normalize(text: str, replace: str = "") -> str:
    """Lowercase and drop (or replace) every run of characters that are not ASCII letters or digits."""
    return _NON_ALNUM.sub(replace, text).lower()


def parse_list(source: WordList | None, do_normalize: bool = True) -> set[str]:
    """Entries from a list or a one-per-line file; lines starting with "#" are comments."""
    if source is None:
        return set()
    lines = read_word_list(source) if isinstance(source, str) else [s.strip() for s in source]
    return {normalize(x) if do_normalize else x for x in lines if x and not x.startswith("#")}


def literal_alternation(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, built as a trie so a search costs one pass."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        if "" in node and len(node) > 1:
            # a word ends here: the shortest match is enough for "contains any"
            return ""
        branches = [re.escape(ch) + render(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return render(trie)


class URLFilter(BaseFilter):
    """Drop documents whose ``metadata["url"]`` is block-listed, as DataTrove's URLFilter.

    Reasons, checked in order: ``domain`` (registered domain listed), ``subdomain`` (full
    host listed), ``url`` (exact URL listed), ``hard_blacklisted`` (a banned word is a word
    of the URL), ``soft_blacklisted`` (at least ``soft_word_threshold`` soft-banned words),
    ``blacklisted_subword`` (a banned sub-word occurs in the URL stripped to letters and
    digits). Each list is given inline or as a path / URL of a one-per-line file.

    DataTrove's own block lists are data it ships, not ours: ``use_integrated_lists=True``
    reads them from ``lists_dir`` (a folder with ``domains``, ``urls``,
    ``banned_words.txt``, ``banned_subwords.txt``, ``soft_banned_words.txt``) and fails
    clearly without it. Domains are split with tldextract's bundled suffix list (no
    network). A document without a URL is counted as ``error_missing_url`` and dropped.
    """

    name = "URLFilter"
    _requires_dependencies = (("tldextract", "processing"),)

    def __init__(
        self,
        soft_word_threshold: int = 2,
        extra_domains: WordList | None = None,
        extra_urls: WordList | None = None,
        banned_words: WordList | None = None,
        banned_subwords: WordList | None = None,
        soft_banned_words: WordList | None = None,
        use_integrated_lists: bool = True,
        exclusion_writer: PipelineStep | None = None,
        lists_dir: str | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        if use_integrated_lists and lists_dir is None:
            raise ValueError(
                "URLFilter(use_integrated_lists=True) needs DataTrove's block lists, which "
                "shardyard does not ship: pass lists_dir='<folder with domains, urls, "
                "banned_words.txt, banned_subwords.txt, soft_banned_words.txt>', or "
                "use_integrated_lists=False with extra_domains / extra_urls / banned_words / "
                "banned_subwords / soft_banned_words (lists or file paths)"
            )
        self.soft_word_threshold = soft_word_threshold
        self.use_integrated_lists = use_integrated_lists
        self.block_listed_domains = parse_list(extra_domains, do_normalize=False)
        self.block_listed_url = parse_list(extra_urls, do_normalize=False)
        self.banned_words = parse_list(banned_words)
        self.banned_subwords = parse_list(banned_subwords)
        self.soft_banned_words = parse_list(soft_banned_words)
        if use_integrated_lists and lists_dir is not None:
            path = {k: os.path.join(lists_dir, v) for k, v in INTEGRATED_FILES.items()}
            self.block_listed_domains |= parse_list(path["domains"], do_normalize=False)
            self.block_listed_url |= parse_list(path["urls"], do_normalize=False)
            self.banned_words |= parse_list(path["banned_words"])
            self.banned_subwords |= parse_list(path["banned_subwords"])
            self.soft_banned_words |= parse_list(path["soft_banned_words"])
        self.banned_words.discard("")
        self.banned_subwords.discard("")
        self.soft_banned_words.discard("")
        if not (
            self.block_listed_domains
            or self.block_listed_url
            or self.banned_words
            or self.banned_subwords
            or self.soft_banned_words
        ):
            raise ValueError("URLFilter has no block list: every list given is empty")
        self._subwords = (
            re.compile(literal_alternation(self.banned_subwords)) if self.banned_subwords else None
        )

    @staticmethod
    def _extract(url: str) -> Any:
        global _EXTRACTOR
        if _EXTRACTOR is None:
            from tldextract import TLDExtract

            # the bundled public-suffix snapshot only: never fetch the list at run time
            _EXTRACTOR = TLDExtract(suffix_list_urls=(), cache_dir=None)
        return _EXTRACTOR(url)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        url = doc.metadata.get("url")
        if not url:
            raise DocumentError("missing_url", f"document {doc.id} has no metadata['url']")
        info = self._extract(url)
        registered = getattr(info, "top_domain_under_public_suffix", None)
        if registered is None:
            registered = info.registered_domain
        if registered in self.block_listed_domains:
            return False, "domain"
        if info.fqdn in self.block_listed_domains:
            return False, "subdomain"
        if url in self.block_listed_url:
            return False, "url"
        url_words = set(_NON_ALNUM.split(url))
        if not self.banned_words.isdisjoint(url_words):
            return False, "hard_blacklisted"
        if len(self.soft_banned_words & url_words) >= self.soft_word_threshold:
            return False, "soft_blacklisted"
        if self._subwords is not None and self._subwords.search(normalize(url)):
            return False, "blacklisted_subword"
        return True
