"""Record how many Documents DataTrove 0.10.1's WarcReader yields for each real WARC/ARC file.

Run it with the DataTrove venv (see bench/datatrove_env.sh), from the repo root::

    bench/.venv-datatrove/bin/python bench/record_datatrove_warc_counts.py

It reads every file under `<realdata cache>/warc/` (warcio's, pywb's and Warcat's test
archives: WARC, WARC.gz, ARC, ARC.gz and deliberately broken ones) and writes
`tests/fixtures/datatrove/warc_counts.json`::

    {"_header": {datatrove/warcio/libmagic versions, command, ...},
     "<source>/<file>": {"datatrove_docs": N, "sha256": "...", "error": null | "...",
                         "record_types": {...}, "decisions": {...}}, ...}

- `datatrove_docs`: Documents that `WarcReader(folder).read_file(name)` yields, i.e. what
  one task reading only that file gets (DataTrove does not catch reader errors: when
  `error` is set, a real run over that file fails the task after that many Documents).
- `record_types`: WARC-Type counts that plain warcio sees on the raw file (ArchiveIterator
  with its defaults), for reference; `record_types_error` when warcio stops early.
- `decisions`: why each record DataTrove saw was kept or dropped, replaying its
  `process_record` rules on the same stream it reads (checked against `datatrove_docs`).

The file holds only counts and checksums, none of the third-party content.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.metadata as md
import json
import shlex
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import realdata  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "datatrove" / "warc_counts.json"
ALLOWED = ("text/html", "application/xhtml+xml")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


def _decide(record: Any) -> str:
    """Replay datatrove.pipeline.readers.warc.process_record; return the outcome's label."""
    import cchardet
    import magic

    if record.rec_type not in ("response", "conversion"):
        return f"drop:record_type={record.rec_type}"
    mime = record.rec_headers.get("WARC-Identified-Payload-Type", None)
    is_conv = record.rec_type == "conversion"
    if mime is not None and mime not in ALLOWED and not (is_conv and mime == "text/plain"):
        return f"drop:payload_type={mime}"
    content = record.content_stream().read()
    via = "header"
    if mime is None:
        via = "magic"
        mime = magic.from_buffer(content, mime=True)
        if mime not in ALLOWED and not (is_conv and mime == "text/plain"):
            return f"drop:magic={mime}"
    try:
        text = content.decode("UTF-8")
        how = "utf-8"
    except UnicodeDecodeError:
        enc = cchardet.detect(content)["encoding"]
        if not enc or enc == "UTF-8":
            return "drop:undecodable"
        try:
            text = content.decode(enc)
        except (UnicodeDecodeError, LookupError):
            return f"drop:undecodable({enc})"
        how = f"cchardet={enc}"
    if not text:
        return "drop:empty_text"
    return f"keep:{record.rec_type}:{via}:{how}"


def count_file(path: Path) -> dict[str, Any]:
    from datatrove.pipeline.readers import WarcReader
    from warcio.archiveiterator import ArchiveIterator

    entry: dict[str, Any] = {"datatrove_docs": 0, "sha256": _sha256(path), "error": None}
    reader = WarcReader(str(path.parent))
    try:
        for _doc in reader.read_file(path.name):
            entry["datatrove_docs"] += 1
    except Exception as exc:  # DataTrove would fail the task here
        entry["error"] = _err(exc)

    types: collections.Counter[str] = collections.Counter()
    try:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                types[rec.rec_type] += 1
    except Exception as exc:
        entry["record_types_error"] = _err(exc)
    entry["record_types"] = dict(sorted(types.items()))

    decisions: collections.Counter[str] = collections.Counter()
    try:
        with reader.data_folder.open(path.name, "rb", compression=reader.compression) as fh:
            for rec in ArchiveIterator(fh):
                decisions[_decide(rec)] += 1
    except Exception as exc:
        decisions[f"stopped:{type(exc).__name__}"] += 1
    entry["decisions"] = dict(sorted(decisions.items()))
    kept = sum(n for k, n in decisions.items() if k.startswith("keep:"))
    if kept != entry["datatrove_docs"]:
        raise SystemExit(
            f"{path}: replayed rules keep {kept}, DataTrove yielded {entry['datatrove_docs']}"
        )
    return entry


def main() -> int:
    import magic
    from datatrove.utils.logging import logger

    logger.remove()  # DataTrove logs one line per file; the JSON is the output
    files = realdata.warc_files()
    root = realdata.path("warc")
    result: dict[str, Any] = {
        "_header": {
            "what": "Documents yielded by DataTrove's WarcReader per real WARC/ARC file",
            "datatrove": md.version("datatrove"),
            "warcio": md.version("warcio"),
            "faust-cchardet": md.version("faust-cchardet"),
            "python-magic": md.version("python-magic"),
            "libmagic": str(magic.version()) if hasattr(magic, "version") else "unknown",
            "python": sys.version.split()[0],
            "command": "bash bench/datatrove_env.sh && "
            + shlex.join(
                ["bench/.venv-datatrove/bin/python", "bench/record_datatrove_warc_counts.py"]
            ),
            "reader": "WarcReader(folder).read_file(name), compression='infer', default adapter",
            "sources": {
                s.key: {"requirement": s.requirement, "sha256": s.sha256}
                for s in realdata.SOURCES
                if any(m.dest.startswith("warc/") for m in s.members)
            },
        }
    }
    for f in files:
        rel = f.relative_to(root).as_posix()
        result[rel] = count_file(f)
        e = result[rel]
        print(f"{rel:45s} {e['datatrove_docs']:4d}  {e['error'] or ''}", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
