"""CsvReader: real texts, tricky quoting, compression, corrupt lines."""

from __future__ import annotations

import bz2
import csv
import gzip
import shutil
from pathlib import Path
from typing import Any

import pytest

from blocks.readers import CSVReader, CsvReader
from tests.blocks.readers.conftest import FIXTURES, read_all, stat


@pytest.mark.parametrize("quoting", [csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
def test_real_texts_read_back(
    tmp_path: Path, real_texts: list[dict[str, Any]], quoting: int
) -> None:
    with open(tmp_path / "real.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=quoting)
        writer.writerow(["id", "text", "source"])
        writer.writerows([r["id"], r["text"], r["metadata"]["source"]] for r in real_texts)
    docs = read_all(CsvReader(str(tmp_path)))
    assert [(d.id, d.text) for d in docs] == [(r["id"], r["text"]) for r in real_texts]
    assert docs[0].metadata == {"source": "lee_background", "file_path": str(tmp_path / "real.csv")}


def test_tricky_hand_made_file(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "tricky.csv", tmp_path / "tricky.csv")
    reader = CsvReader(str(tmp_path))
    docs = read_all(reader)
    assert [(d.id, d.text) for d in docs] == [
        ("1", "A plain line, with a comma."),
        ("2", 'Two\r\nlines and "quotes"'),
        ("3", "Ünïcödé — naïve café"),
        ("5", "extra cell"),
    ]
    assert docs[0].metadata["lang"] == "en"  # the BOM did not stick to the first header
    assert docs[3].metadata["_extra"] == ["surplus"]
    assert stat(reader, "skipped_empty_text") == 1


@pytest.mark.parametrize("codec", ["gz", "bz2"])
def test_compressed_csv(tmp_path: Path, codec: str) -> None:
    raw = (FIXTURES / "tricky.csv").read_bytes()
    data = gzip.compress(raw) if codec == "gz" else bz2.compress(raw)
    (tmp_path / f"t.csv.{codec}").write_bytes(data)
    assert len(read_all(CsvReader(str(tmp_path)))) == 4


def test_text_key_and_missing_column(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("body,n\nhello,1\nworld,2\n")
    docs = read_all(CsvReader(str(tmp_path), text_key="body", default_metadata={"src": "a"}))
    assert [(d.text, d.id, d.metadata["n"], d.metadata["src"]) for d in docs] == [
        ("hello", "a.csv/0", "1", "a"),
        ("world", "a.csv/1", "2", "a"),
    ]
    reader = CSVReader(str(tmp_path))  # DataTrove's alias; no "text" column here
    assert read_all(reader) == []
    assert stat(reader, "error_missing_text") == 2


def test_non_utf8_line_and_bad_row_are_counted(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(
        b"text,id\n"
        b"first,1\n"
        b"caf\xe9 latin-1,2\n"  # not UTF-8
        b"bare\rreturn,3\n"  # the csv module refuses a bare CR in an unquoted field
        b"last,4\n"
    )
    reader = CsvReader(str(tmp_path))
    assert [d.text for d in read_all(reader)] == ["first", "last"]
    assert stat(reader, "error_decode") == 1
    assert stat(reader, "error_bad_csv") == 1


def test_very_long_fields_are_read(tmp_path: Path) -> None:
    long_text = "word " * 100_000  # beyond csv's default 128 KiB field limit
    (tmp_path / "a.csv").write_text(f'text\n"{long_text}"\n')
    (doc,) = read_all(CsvReader(str(tmp_path)))
    assert doc.text == long_text
