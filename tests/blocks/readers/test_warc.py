"""WarcReader: DataTrove's counts on real WARC/ARC files, WET, corrupt input, byte ranges."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.base import FileRange
from blocks.readers import WarcReader, gzip_member_offsets
from blocks.readers.gzip_members import GZIP_MAGIC
from tests.blocks.readers.conftest import FIXTURES, cuts, read_all, stat

COUNTS = Path(__file__).resolve().parents[2] / "fixtures" / "datatrove" / "warc_counts.json"


@pytest.fixture(scope="module")
def warc_root(realdata: Any) -> Path:
    root: Path = realdata.path("warc")
    return root


def _datatrove_counts() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(COUNTS.read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _decisions(entry: dict[str, Any], prefix: str) -> int:
    return sum(n for key, n in entry["decisions"].items() if key.startswith(prefix))


@pytest.mark.parametrize("name", sorted(_datatrove_counts()))
def test_document_counts_equal_datatrove_on_real_files(warc_root: Path, name: str) -> None:
    expected = _datatrove_counts()[name]
    assert hashlib.sha256((warc_root / name).read_bytes()).hexdigest() == expected["sha256"]
    reader = WarcReader(str(warc_root))
    docs = read_all(reader, files=[FileRange(name)])
    assert len(docs) == expected["datatrove_docs"]
    # the same records were dropped for the same reasons up to where DataTrove stopped
    assert stat(reader, "skipped_record_type") == _decisions(expected, "drop:record_type=")
    assert stat(reader, "skipped_mime") == _decisions(expected, "drop:magic=") + _decisions(
        expected, "drop:payload_type="
    )
    # DataTrove's task fails on these files; ours counts the file and goes on
    assert stat(reader, "error_corrupt_file") == (1 if expected["error"] else 0)


def test_real_warc_metadata_matches_the_record_headers(warc_root: Path) -> None:
    docs = list(WarcReader(str(warc_root)).read_file("pywb/iana.warc.gz"))
    assert len(docs) == 16
    first = docs[0]
    assert first.id == "<urn:uuid:4eec4942-a541-410a-99f4-50de39b62118>"
    assert first.metadata == {
        "url": "http://www.iana.org/",
        "date": "2014-01-26T20:06:24Z",
        "file_path": str(warc_root / "pywb" / "iana.warc.gz"),
    }
    assert first.text.lstrip().lower().startswith("<!doctype html")
    assert len({d.id for d in docs}) == 16


@pytest.mark.parametrize("name", ["warcio/example.arc", "warcio/example.arc.gz"])
def test_arc_records_get_url_date_and_a_positional_id(warc_root: Path, name: str) -> None:
    (doc,) = WarcReader(str(warc_root)).read_file(name)
    assert doc.id == f"{name}/1"  # DataTrove leaves None here
    assert doc.metadata["url"] == "http://example.com/"
    assert doc.metadata["date"] == "20140216050221"
    assert "Example Domain" in doc.text


WET_TEXTS = [
    (
        "<urn:uuid:00000000-0000-4000-8000-000000000001>",
        "Tomatoes need six hours of sun a day.\nWater them at the base, not on the leaves.\n",
    ),
    (
        "<urn:uuid:00000000-0000-4000-8000-000000000003>",
        "Déjà vu à la cafétéria: très bien, très cher, très français.\n",
    ),
    ("<urn:uuid:00000000-0000-4000-8000-000000000004>", "<p>An HTML payload kept as it is.</p>\n"),
]


def _per_record_gzip(plain: bytes) -> bytes:
    """Recompress a plain WARC with one gzip member per record, as crawlers write them."""
    from warcio.archiveiterator import ArchiveIterator

    out = io.BytesIO()
    it = ArchiveIterator(io.BytesIO(plain))
    spans = []
    for _ in it:
        spans.append((it.get_record_offset(), it.get_record_length()))
    for i, (start, _length) in enumerate(spans):
        end = spans[i + 1][0] if i + 1 < len(spans) else len(plain)
        out.write(gzip.compress(plain[start:end], mtime=0))
    return out.getvalue()


@pytest.mark.parametrize("codec", ["wet", "wet.gz", "wet.zst", "warc.wet.gz"])
def test_wet_conversion_records(tmp_path: Path, codec: str) -> None:
    plain = (FIXTURES / "sample.wet").read_bytes()
    if codec == "wet.zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(plain)
    elif codec.endswith("gz"):
        data = _per_record_gzip(plain)
    else:
        data = plain
    (tmp_path / f"sample.{codec}").write_bytes(data)
    reader = WarcReader(str(tmp_path))
    docs = read_all(reader)
    assert [(d.id, d.text) for d in docs] == WET_TEXTS  # values checked against DataTrove 0.10.1
    assert docs[1].metadata["url"] == "http://example.org/paris"
    assert docs[1].metadata["date"] == "2024-01-03T00:00:00Z"
    assert stat(reader, "skipped_record_type") == 1  # warcinfo
    assert stat(reader, "skipped_mime") == 2  # an application/pdf payload and an empty one


# -- corrupt input -----------------------------------------------------------------------
def _response(uri: str, body: bytes, payload_type: str | None = "text/html") -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    headers = {"WARC-Identified-Payload-Type": payload_type} if payload_type else {}
    record = writer.create_warc_record(
        uri,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http,
        warc_headers_dict=headers,
    )
    writer.write_record(record)
    return buf.getvalue()


def test_undecodable_record_is_counted_and_the_next_one_read(tmp_path: Path) -> None:
    # UTF-8 cut in the middle of a character: not UTF-8, and cchardet calls it UTF-8, so
    # DataTrove's rules have no other charset to try and drop it
    bad = "<p>日本語の文章です。</p>".encode() * 10 + b"\xe6\x97"
    data = _response("http://a.example/", bad) + _response(
        "http://b.example/", b"<html>fine</html>"
    )
    (tmp_path / "x.warc.gz").write_bytes(data)
    reader = WarcReader(str(tmp_path))
    assert [d.metadata["url"] for d in read_all(reader)] == ["http://b.example/"]
    assert stat(reader, "error_decode") == 1


def test_payload_that_cannot_be_read_is_a_corrupt_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warcio.recordloader import ArcWarcRecord

    original = ArcWarcRecord.content_stream

    def content_stream(self: Any) -> Any:
        if self.rec_headers.get_header("WARC-Target-URI") == "http://a.example/":
            raise zlib.error("invalid block type")
        return original(self)

    monkeypatch.setattr(ArcWarcRecord, "content_stream", content_stream)
    data = _response("http://a.example/", b"<html>a</html>") + _response(
        "http://b.example/", b"<html>b</html>"
    )
    (tmp_path / "x.warc.gz").write_bytes(data)
    reader = WarcReader(str(tmp_path))
    assert [d.text for d in read_all(reader)] == ["<html>b</html>"]
    assert stat(reader, "error_corrupt_record") == 1


@pytest.fixture(scope="module")
def pages_warc(tmp_path_factory: pytest.TempPathFactory, realdata: Any) -> Path:
    """Real HTML pages (every source) as a per-record WARC.gz with a warcinfo record."""
    root = tmp_path_factory.mktemp("pages")
    pages = [(f"http://{p.source}.invalid/{p.name}", p.read()) for p in realdata.html_pages()[::4]]
    realdata.write_html_warc(root / "pages.warc.gz", pages, warcinfo={"software": "test"})
    return root


def test_truncated_gzip_tail_keeps_the_records_before(tmp_path: Path, pages_warc: Path) -> None:
    whole = list(WarcReader(str(pages_warc)).read_file("pages.warc.gz"))
    data = (pages_warc / "pages.warc.gz").read_bytes()
    (tmp_path / "a.warc.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "b.warc.gz").write_bytes(_response("http://after.example/", b"<html>after</html>"))
    reader = WarcReader(str(tmp_path))
    docs = read_all(reader)
    assert docs[-1].metadata["url"] == "http://after.example/"
    head = [d.id for d in docs[:-1]]
    assert 0 < len(head) < len(whole) and head == [d.id for d in whole[: len(head)]]
    assert stat(reader, "error_truncated_file") == 1


def test_invalid_record_header_ends_the_file_as_corrupt(warc_root: Path) -> None:
    reader = WarcReader(str(warc_root))
    docs = read_all(
        reader,
        files=[
            FileRange("pywb/example-url-agnostic-orig.warc.gz"),
            FileRange("pywb/example.warc.gz"),
        ],
    )
    assert len(docs) == 2  # the second file is still read
    assert stat(reader, "error_corrupt_file") == 1


# -- byte ranges -------------------------------------------------------------------------
def test_can_split_and_member_offsets(warc_root: Path) -> None:
    reader = WarcReader(str(warc_root))
    assert reader.can_split("a.warc.gz") and reader.can_split("b.warc.wet.gz")
    assert not reader.can_split("a.warc") and not reader.can_split("a.arc.gz")
    assert not reader.can_split("a.warc.zst")
    with pytest.raises(ValueError, match="split"):
        list(reader.read_range("pywb/example.warc", 0, 10))
    offsets = gzip_member_offsets(str(warc_root), "pywb/iana.warc.gz")
    data = (warc_root / "pywb" / "iana.warc.gz").read_bytes()
    assert offsets[0] == 0 and offsets == sorted(set(offsets))
    assert all(data[o : o + 3] == GZIP_MAGIC for o in offsets)
    # the members tile the file: inflating each one alone gives the whole WARC
    parts = [
        zlib.decompress(data[a:b], 31)
        for a, b in zip(offsets, [*offsets[1:], len(data)], strict=True)
    ]
    assert b"".join(parts) == gzip.decompress(data)


def _ids_by_ranges(reader: WarcReader, name: str, size: int, points: list[int]) -> list[str]:
    pieces = [FileRange(name, a, b) for a, b in cuts(size, points)]
    return [d.id + d.text[:64] for d in read_all(reader, files=pieces)]


@functools.cache
def _whole(root: Path, name: str) -> list[str]:
    return [d.id + d.text[:64] for d in WarcReader(str(root)).read_file(name)]


@functools.cache
def _members(root: Path, name: str) -> list[int]:
    return gzip_member_offsets(str(root), name)


def _check_split(root: Path, name: str, points: list[int], at_members: bool = False) -> None:
    """Reading consecutive ranges cut at ``points`` gives exactly the whole file's records."""
    size = (root / name).stat().st_size
    if at_members:  # the planner's way: cut on member boundaries
        offsets = _members(root, name)
        points = [offsets[p % len(offsets)] for p in points]
    else:  # anywhere, even inside gzip headers
        points = [p % (size + 1) for p in points]
    whole = _whole(root, name)
    assert len(whole) >= 3
    assert _ids_by_ranges(WarcReader(str(root)), name, size, points) == whole


# a few examples by default (each reads the file twice); many under the slow marker
_FAST = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_THOROUGH = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_POINTS = st.lists(st.integers(0, 10**9), max_size=12)


@_FAST
@given(points=_POINTS, at_members=st.booleans())
def test_real_warc_any_split_reads_every_record_once(
    warc_root: Path, points: list[int], at_members: bool
) -> None:
    _check_split(warc_root, "pywb/iana.warc.gz", points, at_members)


@_FAST
@given(points=_POINTS)
def test_real_pages_any_split_reads_every_record_once(pages_warc: Path, points: list[int]) -> None:
    _check_split(pages_warc, "pages.warc.gz", points)


@pytest.mark.slow
@_THOROUGH
@given(points=_POINTS, at_members=st.booleans(), real=st.booleans())
def test_any_split_reads_every_record_once_thorough(
    warc_root: Path, pages_warc: Path, points: list[int], at_members: bool, real: bool
) -> None:
    if real:
        _check_split(warc_root, "pywb/iana.warc.gz", points, at_members)
    else:
        _check_split(pages_warc, "pages.warc.gz", points, at_members)


@pytest.fixture(scope="module")
def odd_gzip_warcs(tmp_path_factory: pytest.TempPathFactory, pages_warc: Path) -> Path:
    """Valid but unusual layouts: one record continued in a second gzip member, and a
    whole file in a single gzip member (which cannot be split, but must not duplicate)."""
    root = tmp_path_factory.mktemp("odd")
    plain = gzip.decompress((pages_warc / "pages.warc.gz").read_bytes())
    per_record = _per_record_gzip(plain[: len(plain) // 4])
    members = gzip_member_offsets(str(pages_warc), "pages.warc.gz")
    assert len(members) > 4
    # recompress record 2 as two members, cut in the middle of its payload
    from warcio.archiveiterator import ArchiveIterator

    part = plain[: len(plain) // 4]
    it = ArchiveIterator(io.BytesIO(part))
    spans = [(it.get_record_offset(), it.get_record_length()) for _ in it]
    out = io.BytesIO()
    for i, (start, _) in enumerate(spans):
        end = spans[i + 1][0] if i + 1 < len(spans) else len(part)
        chunk = part[start:end]
        if i == 2:
            out.write(gzip.compress(chunk[: len(chunk) // 2], mtime=0))
            out.write(gzip.compress(chunk[len(chunk) // 2 :], mtime=0))
        else:
            out.write(gzip.compress(chunk, mtime=0))
    (root / "continued.warc.gz").write_bytes(out.getvalue())
    (root / "single.warc.gz").write_bytes(gzip.compress(part, mtime=0))
    assert per_record != out.getvalue()
    return root


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(points=_POINTS, which=st.sampled_from(["continued", "single"]), at_members=st.booleans())
def test_unusual_gzip_layouts_split_without_loss_or_duplicates(
    odd_gzip_warcs: Path, points: list[int], which: str, at_members: bool
) -> None:
    _check_split(odd_gzip_warcs, f"{which}.warc.gz", points, at_members)


@pytest.mark.parametrize("ranged", [False, True])
@pytest.mark.parametrize("into_member", [40, 120, 200])
def test_file_cut_inside_a_record_header_is_counted(
    tmp_path: Path, pages_warc: Path, ranged: bool, into_member: int
) -> None:
    """warcio treats an EOFError met while parsing a header as the end of the file; the
    truncation must still be counted, with every record before it kept."""
    data = (pages_warc / "pages.warc.gz").read_bytes()
    members = _members(pages_warc, "pages.warc.gz")
    cut = members[6] + into_member  # inside the gzip member of the 7th record's header
    (tmp_path / "cut.warc.gz").write_bytes(data[:cut])
    reader = WarcReader(str(tmp_path))
    item = FileRange("cut.warc.gz", 0, cut) if ranged else FileRange("cut.warc.gz")
    docs = read_all(reader, files=[item])
    (tmp_path / "clean.warc.gz").write_bytes(data[: members[6]])  # the whole records before
    before = [d.id for d in WarcReader(str(tmp_path)).read_file("clean.warc.gz")]
    assert len(before) >= 3 and [d.id for d in docs] == before
    assert stat(reader, "error_truncated_file") == 1
    assert stat(reader, "error_corrupt_record") == 0
