"""LanguageFilter with the shipped lid.176.ftz on real multilingual texts (chardet's corpus)."""

from __future__ import annotations

import functools
import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from blocks.document import Document
from blocks.filters import LanguageFilter
from blocks.models import ModelError, load_fasttext, shipped_lid176
from blocks.pipeline import run_pipeline
from blocks.spec import PipelineSpec, build_pipeline
from tests.helpers import require

pytest.importorskip("fasttext")

REPO = Path(__file__).resolve().parents[3]
DATATROVE_PY = REPO / "bench" / ".venv-datatrove" / "bin" / "python"

# chardet's test folders: <encoding>-<language> and CJK/Cyrillic/Thai encodings.
EXPECTED = {
    "iso-8859-2-czech": "cs",
    "iso-8859-2-hungarian": "hu",
    "iso-8859-2-slovak": "sk",
    "windows-1250-czech": "cs",
    "windows-1250-hungarian": "hu",
    "windows-1250-polish": "pl",
    "windows-1250-romanian": "ro",
    "windows-1250-slovak": "sk",
    "windows-1250-slovene": "sl",
    "iso-8859-5-bulgarian": "bg",
    "iso-8859-5-russian": "ru",
    "windows-1251-bulgarian": "bg",
    "windows-1251-russian": "ru",
    "KOI8-R": "ru",
    "IBM866": "ru",
    "iso-8859-6-arabic": "ar",
    "windows-1256-arabic": "ar",
    "iso-8859-7-greek": "el",
    "iso-8859-9-turkish": "tr",
    "windows-1254-turkish": "tr",
    "windows-1255-hebrew": "he",
    "EUC-JP": "ja",
    "SHIFT_JIS": "ja",
    "EUC-KR": "ko",
    "GB2312": "zh",
    "Big5": "zh",
    "TIS-620": "th",
}


def _encoding(folder: str) -> str:
    parts = folder.split("-")
    for n in (3, 2, 1):
        candidate = "-".join(parts[:n])
        try:
            "a".encode(candidate)
            return candidate
        except LookupError:
            continue
    raise LookupError(folder)


@functools.lru_cache(maxsize=1)
def multilingual_docs() -> tuple[tuple[str, str, str], ...]:
    """(id, expected language, text) of chardet's real pages and feeds, markup stripped."""
    try:
        from bench.realdata import RealDataError, ensure_sources

        cache = ensure_sources(keys=("chardet",))
    except (ImportError, RealDataError, OSError) as err:
        require(False, f"chardet's corpus unavailable: {err}")
        raise AssertionError("unreachable") from err
    out = []
    for folder, lang in sorted(EXPECTED.items()):
        for path in sorted((cache / "chardet" / folder).iterdir()):
            # the first 16 kB are plenty once markup is gone (the text is cut at 4000)
            text = path.read_bytes()[:16000].decode(_encoding(folder), "replace")
            text = html.unescape(re.sub(r"<[^>]*>", " ", text))
            text = re.sub(r"[ \t]+", " ", text).strip()
            if len(text) >= 200:  # long feeds are cut to keep the test fast
                out.append((f"{folder}/{path.name}", lang, text[:4000]))
    return tuple(out)


def docs() -> list[Document]:
    return [Document(text, doc_id) for doc_id, _, text in multilingual_docs()]


def test_identifies_real_multilingual_texts_with_the_shipped_model() -> None:
    truth = {doc_id: lang for doc_id, lang, _ in multilingual_docs()}
    block = LanguageFilter()
    every = docs()
    stats = run_pipeline([every, block]).blocks[1]
    right = sum(d.metadata["language"] == truth[d.id] for d in every)  # dropped ones too
    assert len(truth) >= 250 and len(set(truth.values())) >= 15
    assert right / len(every) >= 0.95  # misses are feeds that are mostly URLs and English
    assert all(0.0 < d.metadata["language_score"] <= 1.0001 for d in every)
    confident = sum(d.metadata["language_score"] > 0.65 for d in every)
    assert stats.stats["total"].n == len(truth)
    assert stats.stats["forwarded"].n == confident
    assert stats.stats["dropped"].n == len(truth) - confident > 0


def test_languages_keep_only_those_and_label_everything() -> None:
    block = LanguageFilter(languages=["ru", "bg"], keep_top_pairs_threshold=0.1)
    kept = list(block.run(docs()))
    truth = {doc_id: lang for doc_id, lang, _ in multilingual_docs()}
    assert kept and all(truth[d.id] in ("ru", "bg") for d in kept)
    cyrillic = sum(lang in ("ru", "bg") for lang in truth.values())
    assert len(kept) >= 0.9 * cyrillic
    for d in kept:
        # the score of a kept language is above the threshold and reported as a top pair
        top = {k: v for k, v in d.metadata.items() if k.startswith("top_language_")}
        assert any(
            v > 0.65
            for k, v in top.items()
            if k in ("top_language_ru_score", "top_language_bg_score")
        )
        assert all(v > 0.1 for v in top.values())


def test_label_only_keeps_all_and_newlines_are_spaces() -> None:
    block = LanguageFilter(label_only=True)
    text = multilingual_docs()[0][2]
    lines = Document(text.replace(" ", "\n"), "lines")
    spaces = Document(text, "spaces")
    out = list(block.run([lines, spaces, Document("1234 5678 ()", "digits")]))
    assert len(out) == 3
    assert out[0].metadata == out[1].metadata  # fastText reads one line: \n becomes " "
    model = load_fasttext(shipped_lid176())
    labels, scores = model.predict(text.replace("\n", " "), k=1)
    assert out[1].metadata == {
        "language": labels[0].removeprefix("__label__"),
        "language_score": float(scores[0]),
    }


def test_threshold_decides_for_the_best_language() -> None:
    doc_id, _, text = multilingual_docs()[0]
    score = next(LanguageFilter(label_only=True).run([Document(text, doc_id)])).metadata[
        "language_score"
    ]
    assert list(LanguageFilter(language_threshold=score - 1e-6).run([Document(text, "a")]))
    assert not list(LanguageFilter(language_threshold=score).run([Document(text, "b")]))
    assert not list(LanguageFilter(languages="en").run([Document(text, "c")]))


def test_model_path_and_shared_cache(tmp_path: Path) -> None:
    copy = tmp_path / "lid.ftz"
    shutil.copy(shipped_lid176(), copy)
    a, b = LanguageFilter(model_path=str(copy)), LanguageFilter(model_path=f"file://{copy}")
    _, lang, text = multilingual_docs()[0]
    assert next(a.run([Document(text, "x")])).metadata["language"] == lang
    assert next(b.run([Document(text, "y")])).metadata["language"] == lang
    assert a.model is b.model  # loaded once per process
    missing = LanguageFilter(model_path=str(tmp_path / "nope.bin"))
    with pytest.raises(ModelError, match="not found"):
        list(missing.run([Document(text, "z")]))


def test_glotlid_backend_splits_language_and_script(tmp_path: Path) -> None:
    import fasttext

    # A tiny GlotLID-style model (labels <lang>_<script>) trained on the real texts.
    iso3 = {"ru": "rus_Cyrl", "el": "ell_Grek", "ja": "jpn_Jpan", "he": "heb_Hebr"}
    rows: dict[str, list[str]] = {code: [] for code in iso3.values()}
    for _, lang, text in multilingual_docs():
        if lang in iso3 and len(rows[iso3[lang]]) < 12:
            rows[iso3[lang]].append(f"__label__{iso3[lang]} {text[:1500]}".replace("\n", " "))
    train = tmp_path / "train.txt"
    train.write_text("".join(f"{row}\n" for group in rows.values() for row in group))
    model = fasttext.train_supervised(
        str(train),
        epoch=30,
        lr=0.5,
        dim=16,
        minn=1,
        maxn=3,
        minCount=1,
        thread=1,
        seed=1,
        verbose=0,
    )
    model.save_model(str(tmp_path / "glot.bin"))
    with pytest.raises(ValueError, match="model_path"):
        LanguageFilter(backend="glotlid")
    block = LanguageFilter(
        backend="glotlid", model_path=str(tmp_path / "glot.bin"), label_only=True
    )
    wanted = [(lang, Document(t, i)) for i, lang, t in multilingual_docs() if lang in iso3]
    out = list(block.run(d for _, d in wanted))
    assert len(out) == len(wanted)
    right = sum(
        f"{d.metadata['language']}_{d.metadata['language_script']}" == iso3[lang]
        for lang, d in wanted
    )
    assert right >= 0.9 * len(wanted)
    assert {d.metadata["language_script"] for d in out} <= {"Cyrl", "Grek", "Jpan", "Hebr"}


def test_builds_from_a_yaml_spec() -> None:
    spec = PipelineSpec.from_dict(
        {
            "name": "lid",
            "stages": [
                {
                    "name": "s",
                    "tasks": 1,
                    "pipeline": [
                        {"LanguageFilter": {"languages": ["fr"], "language_threshold": 0.5}}
                    ],
                }
            ],
        }
    )
    (block,) = build_pipeline(spec.stages[0])
    assert isinstance(block, LanguageFilter) and block.languages == ["fr"]
    with pytest.raises(ValueError):
        LanguageFilter(languages=[])
    with pytest.raises(ValueError):
        LanguageFilter(backend="cld3")  # type: ignore[arg-type]


_DATATROVE_SCRIPT = """
import json, sys
from datatrove.data import Document
from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils import lid
from datatrove.utils.lid import FT176LID
# The bench venv has fasttext-community (same module) instead of fasttext-numpy2-wheel,
# whose distribution name DataTrove insists on: skip that check, nothing else.
lid.check_required_dependencies = lambda *a, **k: None
LanguageFilter._requires_dependencies = []
FT176LID.MODEL_URL = sys.argv[1]
args = json.loads(sys.argv[2])
block = LanguageFilter(**args)
out = {}
for row in map(json.loads, sys.stdin):
    doc = Document(row["text"], row["id"])
    keep = bool(block.filter(doc))
    out[row["id"]] = [keep, doc.metadata]
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [{}, {"languages": ["ru", "bg", "uk"], "keep_top_pairs_threshold": 0.05}],
)
def test_same_decisions_and_metadata_as_datatrove(tmp_path: Path, args: dict[str, Any]) -> None:
    if not DATATROVE_PY.exists():
        pytest.skip("DataTrove venv absent: make bench (bash bench/datatrove_env.sh)")
    rows = "\n".join(json.dumps({"id": i, "text": t}) for i, _, t in multilingual_docs())
    proc = subprocess.run(
        [str(DATATROVE_PY), "-c", _DATATROVE_SCRIPT, shipped_lid176(), json.dumps(args)],
        input=rows,
        capture_output=True,
        text=True,
        env={"HF_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout)
    block = LanguageFilter(**args)
    ours = {}
    for d in docs():
        keep = bool(block.filter(d))
        ours[d.id] = [keep, d.metadata]
    assert ours == theirs
