"""Helpers for the writer tests: real texts from bench.realdata, listing an output folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from blocks.document import Document
from tests.helpers import require


@pytest.fixture(scope="session")
def real_records() -> list[dict[str, Any]]:
    """Real plain texts (Lee news corpus, newspaper4k articles) as DataTrove-style records.

    Skips on a laptop without the cache and network, fails under CI.
    """
    try:
        from bench import realdata

        cache = realdata.ensure_sources(keys=["gensim", "newspaper"])  # Lee corpus, articles
    except Exception as err:  # RealDataError, or no network to PyPI
        require(False, f"real data not available: {err}")
    records: list[dict[str, Any]] = []
    for name in ("lee_background", "lee"):
        raw = (cache / "news" / f"{name}.cor").read_text(encoding="utf-8", errors="replace")
        for i, line in enumerate(raw.splitlines()):
            if line.strip():
                records.append(
                    {"text": line.strip(), "id": f"{name}/{i}", "metadata": {"source": name}}
                )
    for p in sorted((cache / "txt" / "newspaper").glob("*.txt")):
        text = p.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            records.append(
                {"text": text, "id": f"newspaper/{p.stem}", "metadata": {"source": "newspaper"}}
            )
    assert len(records) > 300
    return records


@pytest.fixture
def real_docs(real_records: list[dict[str, Any]]) -> list[Document]:
    """Fresh Documents (metadata copied: blocks may add keys) for each test."""
    return [Document(r["text"], r["id"], dict(r["metadata"])) for r in real_records]


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder`` (relative, sorted), hidden temporary files included."""
    out = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            out.append(os.path.relpath(os.path.join(root, name), folder))
    return sorted(out)


HF_PYTHON_ENV = "SHARDYARD_HF_PYTHON"

_LOAD_SCRIPT = """
import json, sys
import datasets
files, cache = json.loads(sys.argv[1]), sys.argv[2]
ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=cache)
json.dump({"columns": ds.column_names, "rows": ds.to_list()}, sys.stdout)
"""


def load_with_hf_datasets(files: list[str], cache_dir: Path) -> dict[str, Any]:
    """``datasets.load_dataset("parquet", data_files=files)`` -> its columns and rows.

    Uses ``datasets`` in this interpreter when installed, else the interpreter named by
    ``$SHARDYARD_HF_PYTHON`` (a separate venv: ``datasets`` brings pandas, which pyarrow
    then imports in every process, so it stays out of the project's venv). Skips when
    neither is available.
    """
    import json
    import subprocess

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import datasets
    except ImportError:
        python = os.environ.get(HF_PYTHON_ENV)
        if not python:
            from tests.helpers import require

            require(False, f"HF datasets not installed here and ${HF_PYTHON_ENV} not set")
        proc = subprocess.run(
            [python, "-c", _LOAD_SCRIPT, json.dumps(files), str(cache_dir)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "HF_DATASETS_OFFLINE": "1"},
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        loaded: dict[str, Any] = json.loads(proc.stdout)
        return loaded
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(cache_dir))
    return {"columns": ds.column_names, "rows": ds.to_list()}
