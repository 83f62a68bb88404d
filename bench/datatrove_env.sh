#!/usr/bin/env bash
# Create bench/.venv-datatrove: DataTrove 0.10.1, the peer the benchmarks compare against.
#
#   bash bench/datatrove_env.sh            # create or update (idempotent), then self-check
#   DATATROVE_VENV=/some/dir bash bench/datatrove_env.sh
#
# What goes in, and why:
#   datatrove[io,processing]==0.10.1  WarcReader needs warcio + faust-cchardet + python-magic (io),
#                                     the filters/extractors need trafilatura, nltk, ftfy ... (processing)
#   spacy                             datatrove's English word tokenizer (spacy.blank("en"), no model)
#   lxml_html_clean                   trafilatura <1.12 imports lxml.html.clean, split out of lxml 5.2
#   fasttext-community==0.11.9        provides the `fasttext` module datatrove imports; it replaces
#                                     datatrove's own pick, fasttext-numpy2-wheel (same module name,
#                                     so the two must not both be installed)
# python-magic needs the system libmagic1 (installed with apt-get when missing and we are root).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${DATATROVE_VENV:-$here/.venv-datatrove}"
py_version="${DATATROVE_PYTHON:-3.11}"

log() { printf '[datatrove_env] %s\n' "$*" >&2; }

# uv: use the one on PATH, else bootstrap it into a private venv with the system python's pip.
uv_bin="$(command -v uv || true)"
if [[ -z "$uv_bin" ]]; then
    if [[ ! -x "$here/.venv-uv/bin/uv" ]]; then
        log "uv not found: installing it into $here/.venv-uv"
        python3 -m venv "$here/.venv-uv"
        "$here/.venv-uv/bin/pip" install --quiet uv
    fi
    uv_bin="$here/.venv-uv/bin/uv"
fi
export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"   # honour the system CA store (uv ignores pip.conf)

if ! ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1'; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        log "installing libmagic1 (python-magic needs it)"
        apt-get install -y -q libmagic1 >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q libmagic1 >/dev/null; }
    else
        log "WARNING: libmagic1 is missing; DataTrove's WarcReader will fail to import python-magic"
    fi
fi

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv (python $py_version)"
    "$uv_bin" venv --quiet --python "$py_version" "$venv"
fi

pkgs=(
    'datatrove[io,processing]==0.10.1'
    'spacy>=3.8,<4'
    'lxml_html_clean'
    'fasttext-community==0.11.9'
    # pinned because the committed tests/fixtures/datatrove/warc_counts.json depends on them
    'warcio==1.8.1'
    'trafilatura==1.11.0'
)
log "installing datatrove 0.10.1 and its extras"
if "$uv_bin" pip install --help 2>/dev/null | grep -q -- '--excludes'; then
    excludes="$(mktemp)"
    trap 'rm -f "$excludes"' EXIT
    printf 'fasttext-numpy2-wheel\n' >"$excludes"
    "$uv_bin" pip install --quiet --python "$venv/bin/python" --excludes "$excludes" "${pkgs[@]}"
else
    # older uv: install, then swap datatrove's fasttext distribution for fasttext-community
    "$uv_bin" pip install --quiet --python "$venv/bin/python" "${pkgs[@]}"
    "$uv_bin" pip uninstall --quiet --python "$venv/bin/python" fasttext-numpy2-wheel 2>/dev/null || true
    "$uv_bin" pip install --quiet --python "$venv/bin/python" --reinstall 'fasttext-community==0.11.9'
fi

log "self-check"
"$venv/bin/python" - <<'PY'
import importlib.metadata as md

import datatrove  # noqa: F401
import fasttext
from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter
from datatrove.pipeline.readers import WarcReader  # noqa: F401

assert md.version("datatrove") == "0.10.1", md.version("datatrove")
owners = [d.metadata["Name"] for d in md.distributions() if (d.read_text("top_level.txt") or "").split().count("fasttext")]
text = " ".join(["The quick brown fox jumps over the lazy dog and runs away into the forest."] * 12)
doc = Document(text=text, id="0")
gopher = GopherQualityFilter().filter(doc)
c4 = C4QualityFilter(filter_no_terminal_punct=False).filter(doc)
print(f"datatrove {md.version('datatrove')} ok; fasttext from {owners or fasttext.__file__}; "
      f"gopher={gopher} c4={c4}")
PY
log "ready: $venv/bin/python"
