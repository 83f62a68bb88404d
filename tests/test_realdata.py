"""bench.realdata / bench.corpus: pinned sources resolve, checksums are enforced, outputs
are deterministic, and the DataTrove WARC counts fixture matches the pinned files.

Tests that need the fetched cache (`python -m bench.realdata fetch`) skip without it on a
laptop and fail under CI, where `make ci` fetches it first.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from bench import corpus, realdata
from tests.helpers import require

REPO = Path(__file__).resolve().parents[1]
COUNTS = REPO / "tests" / "fixtures" / "datatrove" / "warc_counts.json"
DATATROVE_PY = REPO / "bench" / ".venv-datatrove" / "bin" / "python"

EXPECTED_COUNTS = {
    "html/trafilatura": 110,
    "html/htmldate": 68,
    "html/newspaper": 30,
    "txt/newspaper": 28,
    "html/inscriptis": 3,
    "warc/warcio": 11,
    "warc/pywb": 17,
    "warc/warcat": 6,
}


def _cache_ready() -> bool:
    return all(realdata.is_extracted(s) for s in realdata.SOURCES)


@pytest.fixture(scope="module")
def cache() -> Path:
    require(_cache_ready(), "real-data cache absent: run `python -m bench.realdata fetch`")
    return realdata.ensure_sources(download=False)


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------- sources


def test_source_table_is_pinned() -> None:
    keys = [s.key for s in realdata.SOURCES]
    assert len(keys) == len(set(keys))
    for s in realdata.SOURCES:
        assert len(s.sha256) == 64 and int(s.sha256, 16) >= 0
        assert s.version in s.filename
        assert s.filename.endswith(".tar.gz" if s.kind == "sdist" else ".whl")


def test_sources_resolve(cache: Path) -> None:
    for rel, n in EXPECTED_COUNTS.items():
        folder = realdata.path(rel, ensure=False)
        assert folder.is_dir()
        assert len([p for p in folder.iterdir() if p.is_file()]) == n, rel
    assert sum(1 for p in (cache / "chardet").rglob("*") if p.is_file()) > 300
    assert realdata.path("lid176", ensure=False).stat().st_size == 938013
    for alias in ("tokenizer-anthropic", "tokenizer-minilm"):
        tok = json.loads(realdata.path(alias, ensure=False).read_text())
        assert "model" in tok
    assert realdata.path("enwiki").read_bytes()[:3] == b"BZh"
    assert len(realdata.path("lee-background").read_text().splitlines()) == 300
    assert len(realdata.html_pages()) == 211
    assert len(realdata.warc_files()) == 34


def test_cached_archives_match_their_pins(cache: Path) -> None:
    for s in realdata.SOURCES:
        arc = cache / "archives" / s.filename
        if arc.exists():  # archives may be pruned; the stamps still name the sha
            realdata.verify_archive(arc, s)
        stamp = json.loads((cache / ".stamps" / f"{s.key}.json").read_text())
        assert stamp["sha256"] == s.sha256


def test_path_rejects_unknown_and_escaping_names(cache: Path) -> None:
    with pytest.raises(realdata.RealDataError):
        realdata.path("no/such/thing", ensure=False)
    with pytest.raises(realdata.RealDataError):
        realdata.path("../pyproject.toml", ensure=False)


# ----------------------------------------------------------------- checksums


def _fake_sdist(tmp: Path) -> tuple[Path, realdata.Source]:
    """A tiny sdist-like archive (our own bytes) and a Source pinning it."""
    arc = tmp / "fake-1.0.tar.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("fake-1.0/data/a.txt", b"alpha\n"), ("fake-1.0/data/b.bin", b"\x00")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    arc.write_bytes(buf.getvalue())
    src = realdata.Source(
        "fake", "fake", "1.0", "sdist", arc.name, realdata.sha256_file(arc),
        (realdata.Member("data/", "fake", "*.txt"),),
    )  # fmt: skip
    return arc, src


def test_extract_takes_only_wanted_members(tmp_path: Path) -> None:
    arc, src = _fake_sdist(tmp_path)
    out = tmp_path / "cache"
    assert realdata.extract_source(src, arc, out) == ["fake/a.txt"]
    assert (out / "fake" / "a.txt").read_bytes() == b"alpha\n"
    assert realdata.is_extracted(src, out)


def test_corrupted_archive_is_refused_before_extraction(tmp_path: Path) -> None:
    arc, src = _fake_sdist(tmp_path)
    data = bytearray(arc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arc.write_bytes(bytes(data))
    out = tmp_path / "cache"
    with pytest.raises(realdata.ChecksumError, match="does not match the pinned"):
        realdata.extract_source(src, arc, out)
    assert not out.exists() or not any(out.rglob("*.txt"))
    assert not realdata.is_extracted(src, out)


def test_ensure_sources_refuses_a_corrupted_cached_archive_offline(tmp_path: Path) -> None:
    src = realdata.SOURCES_BY_KEY["warcat"]
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / src.filename).write_bytes(b"not the real archive")
    with pytest.raises(realdata.ChecksumError):
        realdata.ensure_sources(tmp_path, download=False, keys=["warcat"])
    assert not (tmp_path / "warc").exists()


def test_real_archive_with_one_flipped_byte_is_refused(cache: Path, tmp_path: Path) -> None:
    src = realdata.SOURCES_BY_KEY["warcio"]
    arc = cache / "archives" / src.filename
    require(arc.exists(), f"{arc} absent")
    data = bytearray(arc.read_bytes())
    data[100] ^= 0x01
    bad = tmp_path / src.filename
    bad.write_bytes(bytes(data))
    with pytest.raises(realdata.ChecksumError):
        realdata.verify_archive(bad, src)
    realdata.verify_archive(arc, src)


def test_missing_archive_without_download_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(realdata.RealDataError, match="not in the cache"):
        realdata.ensure_sources(tmp_path, download=False, keys=["inscriptis"])


# ----------------------------------------------------------------- texts / WARC writing


def test_strip_wikitext() -> None:
    wiki = (
        "'''Foo''' is a [[bar|Bar]] of {{cite web|url=x|{{nested}}}} [[baz]].<ref>note</ref>\n"
        "[[File:X.jpg|thumb|A [[caption]] here]]\n== History ==\n* item [http://x.org label]\n"
        "{| class=wikitable\n|-\n| cell\n|}\n[[Category:Things]]"
    )
    assert realdata.strip_wikitext(wiki) == "Foo is a Bar of baz.\n\nHistory\nitem label"


def test_write_html_warc_is_reproducible_and_datatrove_shaped(tmp_path: Path) -> None:
    warcio = pytest.importorskip("warcio.archiveiterator")
    pages = [
        ("http://a.invalid/1", b"<html><head><meta charset='utf-8'></head><body>one</body></html>"),
        ("http://a.invalid/2", b"<html><body>two</body></html>"),
    ]
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    a, b = tmp_path / "1" / "x.warc.gz", tmp_path / "2" / "x.warc.gz"  # the name is in warcinfo
    assert realdata.write_html_warc(a, pages, warcinfo={"software": "test"}) == 2
    realdata.write_html_warc(b, pages, warcinfo={"software": "test"})
    assert a.read_bytes() == b.read_bytes()
    with open(a, "rb") as fh:
        recs = [
            (r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
            for r in warcio.ArchiveIterator(fh)
        ]
    assert [r[0] for r in recs] == ["warcinfo", "response", "response"]
    for (_, h, http, body), (uri, content) in zip(recs[1:], pages, strict=True):
        assert h.get_header("WARC-Target-URI") == uri
        assert h.get_header("WARC-Identified-Payload-Type") == "text/html"
        assert h.get_header("WARC-Date") == realdata.FIXED_WARC_DATE
        assert http.get_statuscode() == "200"
        assert body == content
    assert recs[1][2].get_header("Content-Type") == "text/html; charset=utf-8"
    with pytest.raises(ValueError, match="duplicate URI"):
        realdata.write_html_warc(tmp_path / "c.warc.gz", pages + pages[:1])


# ----------------------------------------------------------------- quickstart


def test_quickstart_is_deterministic(cache: Path, tmp_path: Path) -> None:
    warcio = pytest.importorskip("warcio.archiveiterator")
    s1 = realdata.quickstart(tmp_path / "one")
    s2 = realdata.quickstart(tmp_path / "two")
    t1, t2 = _digest_tree(tmp_path / "one"), _digest_tree(tmp_path / "two")
    assert t1 == t2
    assert sorted(t1) == [f"in/part-0000{k}.jsonl.gz" for k in range(4)] + [
        f"warc/part-0000{k}.warc.gz" for k in range(2)
    ]
    assert s1["documents"] == s2["documents"] == 484
    assert s1["exact_duplicate_texts"] == 7  # the Lee corpus repeats some articles verbatim

    records = []
    for f in sorted((tmp_path / "one" / "in").glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            records += [json.loads(line) for line in fh]
    assert len(records) == 484
    assert len({r["id"] for r in records}) == 484
    assert all(r["text"] and r["metadata"]["source"] for r in records)
    assert {r["metadata"]["source"] for r in records} == {
        "lee_background",
        "lee",
        "newspaper",
        "enwiki",
    }

    uris = []
    for f in sorted((tmp_path / "one" / "warc").glob("*.warc.gz")):
        with open(f, "rb") as fh:
            for rec in warcio.ArchiveIterator(fh):
                assert rec.rec_type == "response"
                uris.append(rec.rec_headers.get_header("WARC-Target-URI"))
    assert len(uris) == len(set(uris)) == s1["warc_records"] == 33


def test_cli_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for main, argv in (
        (realdata.main, ["--help"]),
        (realdata.main, ["quickstart", "--help"]),
        (realdata.main, ["path", "--help"]),
        (corpus.main, ["--help"]),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert "example" in capsys.readouterr().out


# ----------------------------------------------------------------- corpus


def test_near_duplicate_edits() -> None:
    import random

    words = [f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(300)]
    text = " ".join(w + ("." if i % 12 == 11 else "") for i, w in enumerate(words))
    a = corpus.shingles(text)
    assert corpus.jaccard(a, corpus.shingles(corpus.case_whitespace(text, random.Random(1)))) == 1.0
    typo = corpus.add_typos(text, 0.05, random.Random(2))
    assert typo != text and 0.3 < corpus.jaccard(a, corpus.shingles(typo)) < 0.9
    trunc = corpus.truncate_words(text, 0.5)
    assert text.startswith(trunc) and 0.4 < corpus.jaccard(a, corpus.shingles(trunc)) < 0.6
    assert corpus.simplify_text("Héllo, WORLD! 3.14 and 42") == "hello world 0 and 0"


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~15 s of CPU; generous for a loaded 2-core CI machine
def test_corpus_is_deterministic_and_has_no_unplanned_near_duplicates(
    cache: Path, tmp_path: Path
) -> None:
    pytest.importorskip("warcio")
    kw = {
        "jsonl_mb": 4.5,
        "jsonl_files": 3,
        "dup_fraction": 0.05,
        "warc_replicas": 1,
        "warc_files": 2,
    }
    m1 = corpus.build(tmp_path / "a", **kw)
    corpus.build(tmp_path / "b", **kw)
    assert _digest_tree(tmp_path / "a") == _digest_tree(tmp_path / "b")
    assert m1["warc"]["responses"] == 211
    assert m1["jsonl"]["recombined_documents"] > 0
    assert m1["jsonl"]["max_recombined_sentence_jaccard"] < 0.3

    docs: dict[str, str] = {}
    for f in sorted((tmp_path / "a" / "jsonl").glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                docs[r["id"]] = r["text"]
    truth = [json.loads(line) for line in (tmp_path / "a" / "truth.jsonl").read_text().splitlines()]
    assert {t["kind"] for t in truth} >= {"exact", "typos", "truncate", "natural"}
    for t in truth:  # recorded Jaccards are the true ones
        sa, sb = corpus.shingles(docs[t["id"]]), corpus.shingles(docs[t["original_id"]])
        assert corpus.jaccard(sa, sb) == pytest.approx(t["jaccard"], abs=1e-6)

    # Any pair with Jaccard >= 0.5 must be in the truth (same cluster).
    ids = sorted(docs)
    parent = list(range(len(ids)))
    index = {d: i for i, d in enumerate(ids)}

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for t in truth:
        parent[find(index[t["id"]])] = find(index[t["original_id"]])
    pairs = corpus.similar_pairs([corpus.shingles(docs[i]) for i in ids], 0.5)
    assert pairs, "the planted duplicates should be found"
    unplanned = [(ids[a], ids[b], j) for a, b, j in pairs if find(a) != find(b)]
    assert unplanned == []


def test_similar_pairs_is_exact() -> None:
    import itertools
    import random

    rng = random.Random(7)
    vocab = [f"g{i}" for i in range(40)]
    sets = [frozenset(rng.sample(vocab, rng.randint(0, 15))) for _ in range(60)]
    sets += [s | {"extra"} for s in sets[:10]]
    for t in (0.3, 0.5, 0.8):
        brute = [
            (i, j, corpus.jaccard(a, b))
            for (i, a), (j, b) in itertools.combinations(enumerate(sets), 2)
            if a and b and corpus.jaccard(a, b) >= t
        ]
        assert corpus.similar_pairs(sets, t) == brute


# ----------------------------------------------------------------- DataTrove fixture


def test_datatrove_warc_counts_fixture_matches_pinned_files(cache: Path) -> None:
    counts = json.loads(COUNTS.read_text())
    header = counts.pop("_header")
    assert header["datatrove"] == "0.10.1"
    assert "record_datatrove_warc_counts.py" in header["command"]
    for key, pin in header["sources"].items():
        assert realdata.SOURCES_BY_KEY[key].sha256 == pin["sha256"]
    root = realdata.path("warc", ensure=False)
    files = {p.relative_to(root).as_posix(): p for p in realdata.warc_files()}
    assert set(counts) == set(files)
    for name, entry in counts.items():
        assert entry["sha256"] == realdata.sha256_file(files[name]), name
        kept = sum(n for k, n in entry["decisions"].items() if k.startswith("keep:"))
        assert kept == entry["datatrove_docs"]
    assert sum(e["datatrove_docs"] for e in counts.values()) == 37


def test_simplify_text_matches_datatrove() -> None:
    if not DATATROVE_PY.exists():
        pytest.skip("bench/.venv-datatrove absent (bash bench/datatrove_env.sh)")
    samples = [
        "Héllo, WORLD! 3.14 and 42 — “quoted” «text» 1,000,000\tend",
        "Ünïcödé façade; e-mail: a_b@c.d (x) [y] {z} 「東京」 ٣٫١٤ naïve",
    ]
    code = (
        "import json,sys; from datatrove.utils.text import simplify_text; "
        "print(json.dumps([simplify_text(s) for s in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [str(DATATROVE_PY), "-c", code],
        input=json.dumps(samples),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == [corpus.simplify_text(s) for s in samples]


def test_source_dataclass_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        realdata.SOURCES[0].sha256 = "0" * 64  # type: ignore[misc]
