"""Build the benchmark corpora from real data (see bench.realdata), deterministically.

    python -m bench.corpus --out data/bench --jsonl-mb 50 --warc-replicas 4

Writes::

    OUT/jsonl/part-0000N.jsonl.gz   DataTrove-style records {"text", "id", "metadata"}
    OUT/warc/part-0000N.warc.gz     every real HTML page x replicas, as WARC response records
    OUT/truth.jsonl                 the known duplicate pairs of the JSONL corpus
    OUT/manifest.json               parameters, counts, bytes, checks

JSONL corpus. Every real text document (Lee news corpus, newspaper4k texts, Wikipedia)
appears once as itself. To reach `--jsonl-mb` (uncompressed JSON lines), English
documents are recombined from random 1-3 sentence chunks of the real English texts; a
chunk pool of some 20k distinct sentences keeps any two such documents far apart (the
largest sentence-level overlap is checked and stored in the manifest). Then a fraction
of documents is planted as copies of known originals, each with one kind of change:

    exact        the same text
    case_ws      case and whitespace changes (identical after normalization)
    typos        character edits in 0.2-8 % of the words
    boilerplate  1-6 header/footer lines of site chrome
    truncate     the first 40-95 % of the words
    combo        light typos + boilerplate + truncation together
    rewrite      30-85 % of the sentences replaced or dropped: hard negatives

Each planted document is a line of truth.jsonl with its true Jaccard similarity to the
original over word 5-gram sets, computed after DataTrove's default `simplify_text`
(lowercase, digits -> 0, its punctuation set -> space, whitespace collapsed, diacritics
removed), words split on whitespace (DataTrove splits with spaCy; the sets differ only
on contraction-like tokens). Pairs of real documents that are naturally near-duplicate
(Jaccard >= 0.3, e.g. repeated Lee articles) are listed too, with kind "natural".

WARC corpus. Every real HTML page (trafilatura, htmldate, newspaper4k, inscriptis test
pages) is written `--warc-replicas` times with distinct URIs (the page's own canonical
URL when it has one, plus `?sy_replica=N`) as `response` records with HTTP 200 headers
and `WARC-Identified-Payload-Type: text/html`, shuffled over `--warc-files` files, each
starting with a warcinfo record.

Only the standard library is imported at module level; the WARC part needs warcio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import realdata

# ------------------------------------------------------------------ normalization / Jaccard

# datatrove.utils.text.PUNCTUATION (0.10.1): these characters plus C0/C1 controls.
_PUNCT = (
    "!/\u2014\u201d:\uff05\uff11\u3008&(\u3001\u2501\\\u3010#%\u300c\u300d\uff0c\u3011\uff1b"
    "+^]~\u201c\u300a\u201e';\u2019{|\u2236\xb4[=-`*\uff0e\uff08\u2013\uff1f\uff01\uff1a$\uff5e"
    '\xab\u3009,><\u300b)?\uff09\u3002\u2026@_."}\u25ba\xbb'
) + "".join(chr(x) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b))
_PUNCT_RE = re.compile("[" + re.escape(_PUNCT) + "]")
_NUMBERS = re.compile(r"\d+([.,\u060c\u066b\u2396\u2397\u2398]\d+)?")
NGRAM = 5


def simplify_text(text: str) -> str:
    """DataTrove 0.10.1's `simplify_text` with its default TextNormConfig, stdlib only."""
    text = _NUMBERS.sub("0", text.lower())
    text = " ".join(_PUNCT_RE.sub(" ", text).split())
    if not text.isascii():
        text = unicodedata.normalize("NFD", text)
        marks = {ord(c): None for c in set(text) if unicodedata.category(c) == "Mn"}
        if marks:
            text = text.translate(marks)
    return text.strip()


def shingles(text: str, n: int = NGRAM) -> frozenset[str]:
    """Set of word n-grams of the simplified text (empty for fewer than n words)."""
    words = simplify_text(text).split()
    return frozenset(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


# ------------------------------------------------------------------ sentences


_SENT_SPLIT = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+(?=[\"'\u201c\u2018(]?[A-Z0-9])")
_EN_STOP_WORDS = (
    "the of and to a in is that for on with as was it by at he be are from has said an his "
    "have were which this not but they their had its also been who will"
)
_EN_STOP = frozenset(_EN_STOP_WORDS.split())


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            out.extend(s for s in _SENT_SPLIT.split(line) if s)
    return out


def is_english(text: str) -> bool:
    words = text.lower().split()
    return len(words) >= 20 and sum(w in _EN_STOP for w in words) / len(words) >= 0.15


# ------------------------------------------------------------------ edits for planted docs

BOILERPLATE = (
    "Share this article on Facebook Twitter LinkedIn Email",
    "Subscribe to our newsletter to get the latest stories delivered to your inbox.",
    "We use cookies to improve your experience. By continuing to browse you agree to our use of cookies.",
    "All rights reserved. This material may not be published, broadcast, rewritten or redistributed.",
    "Advertisement",
    "Skip to main content",
    "Home | News | Sport | Business | Opinion | Contact",
    "Sign in or create an account to continue reading.",
    "Related articles",
    "Follow us on social media for more updates.",
    "Click here to read the full story.",
    "Comments are closed.",
    "Print this page",
    "Terms of Use | Privacy Policy | Cookie Settings",
    "Read more: the latest headlines from around the world",
    "Posted in News | Leave a comment",
    "This article was originally published on our partner site.",
    "Copyright 2019 Example Media Group. Powered by WordPress.",
)


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word + rng.choice("aeiou")
    i = rng.randrange(len(word) - 1)
    op = rng.randrange(4)
    if op == 0:  # swap adjacent
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 1:  # delete
        return word[:i] + word[i + 1 :]
    if op == 2:  # insert
        return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i:]
    return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i + 1 :]


def add_typos(text: str, rate: float, rng: random.Random) -> str:
    """Edit round(rate * words) words (at least one) at random positions."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    if not spans:
        return text
    k = min(len(spans), max(1, round(rate * len(spans))))
    out, last = [], 0
    for a, b in sorted(spans[i] for i in rng.sample(range(len(spans)), k)):
        out += [text[last:a], _typo(text[a:b], rng)]
        last = b
    return "".join(out) + text[last:]


def add_boilerplate(text: str, n_lines: int, rng: random.Random) -> str:
    picks = rng.sample(BOILERPLATE, n_lines)
    head = picks[: rng.randint(0, n_lines)]
    tail = picks[len(head) :]
    return "\n".join([*head, text, *tail])


def truncate_words(text: str, keep: float) -> str:
    # cut at a word boundary, keeping the original line breaks before the cut
    spans = list(re.finditer(r"\S+", text))
    n = max(1, int(len(spans) * keep))
    return text[: spans[n - 1].end()] if spans else text


def case_whitespace(text: str, rng: random.Random) -> str:
    mode = rng.choice(("upper", "lower", "title", "sentences"))
    if mode == "upper":
        text = text.upper()
    elif mode == "lower":
        text = text.lower()
    elif mode == "title":
        text = text.title()
    else:
        text = "\n".join(
            s.upper() if rng.random() < 0.3 else s for s in split_sentences(text) or [text]
        )
    words = text.split()
    seps = [rng.choice((" ", " ", " ", "  ", "\n", " \t", "\n\n")) for _ in words]
    return "  " + "".join(w + s for w, s in zip(words, seps, strict=True)) + " \n"


def rewrite(text: str, frac: float, pool: Sequence[str], rng: random.Random) -> str:
    """Change round(frac * units) units (at least one): 70 % replaced by a pool sentence,
    30 % dropped. Units are sentences, or 12-word pieces when there are fewer than 4."""
    units = split_sentences(text)
    if len(units) < 4:
        words = text.split()
        units = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)] or [text]
    k = min(len(units), max(1, round(frac * len(units))))
    out = list(units)
    for i in sorted(rng.sample(range(len(units)), k), reverse=True):
        if rng.random() < 0.7:
            out[i] = rng.choice(pool)
        else:
            del out[i]
    return " ".join(out) or rng.choice(pool)


@dataclass(slots=True)
class Planted:
    text: str
    kind: str
    params: dict[str, Any]


def plant(kind: str, text: str, pool: Sequence[str], rng: random.Random) -> Planted:
    if kind == "exact":
        return Planted(text, kind, {})
    if kind == "case_ws":
        return Planted(case_whitespace(text, rng), kind, {})
    if kind == "typos":
        rate = round(rng.uniform(0.002, 0.08), 4)
        return Planted(add_typos(text, rate, rng), kind, {"word_rate": rate})
    if kind == "boilerplate":
        n = rng.randint(1, 6)
        return Planted(add_boilerplate(text, n, rng), kind, {"lines": n})
    if kind == "truncate":
        keep = round(rng.uniform(0.4, 0.95), 3)
        return Planted(truncate_words(text, keep), kind, {"keep": keep})
    if kind == "combo":
        rate = round(rng.uniform(0.002, 0.02), 4)
        keep = round(rng.uniform(0.8, 1.0), 3)
        n = rng.randint(1, 3)
        t = add_boilerplate(add_typos(truncate_words(text, keep), rate, rng), n, rng)
        return Planted(t, kind, {"word_rate": rate, "keep": keep, "lines": n})
    if kind == "rewrite":
        frac = round(rng.uniform(0.3, 0.85), 3)
        return Planted(rewrite(text, frac, pool, rng), kind, {"sentence_frac": frac})
    raise ValueError(kind)


PLANT_KINDS: dict[str, float] = {
    "exact": 0.15,
    "case_ws": 0.1,
    "typos": 0.2,
    "boilerplate": 0.15,
    "truncate": 0.15,
    "combo": 0.1,
    "rewrite": 0.15,
}


# ------------------------------------------------------------------ JSONL corpus


MIN_WORDS = 150
NATURAL_THRESHOLD = 0.3
MAX_CHUNK_SHARE = 0.2


def _line_bytes(rec: dict[str, Any]) -> int:
    return len(json.dumps(rec, ensure_ascii=False).encode("utf-8")) + 1


def build_jsonl(
    out_dir: Path,
    *,
    target_mb: float,
    n_files: int = 8,
    dup_fraction: float = 0.04,
    seed: int = 0,
    cache_dir: str | None = None,
    truth_path: Path | None = None,
) -> dict[str, Any]:
    """Write the JSONL.gz corpus and truth.jsonl; return manifest facts."""
    rng = random.Random(seed)
    base = realdata.text_documents(cache_dir)
    target = int(target_mb * 1_000_000)

    # English sentence pool, deduplicated by text so a sentence id means one text.
    sent_ids: dict[str, int] = {}
    sent_doc: list[int] = []  # the base document each pooled sentence came from
    doc_sent_ids: list[set[int]] = []  # sentence ids of each base document
    for di, d in enumerate(base):
        ids = set()
        if is_english(d["text"]):
            for s in split_sentences(d["text"]):
                if len(s.split()) >= 3:
                    if s not in sent_ids:
                        sent_ids[s] = len(sent_ids)
                        sent_doc.append(di)
                    ids.add(sent_ids[s])
        doc_sent_ids.append(ids)
    sentences = list(sent_ids)
    if len(sentences) < 1000:
        raise realdata.RealDataError(f"only {len(sentences)} English sentences in the sources")

    docs: list[dict[str, Any]] = [
        {"text": d["text"], "metadata": dict(d["metadata"]), "_src": d["id"]} for d in base
    ]
    total = sum(_line_bytes({**d, "id": "d00000000"}) for d in base)
    budget = target / (1 + dup_fraction)
    syn_sets: list[list[int]] = []
    n_sent = len(sentences)
    # A recombined document has a target length of >= MIN_WORDS words, built from chunks
    # of 1-2 consecutive sentences, each at most MAX_CHUNK_SHARE of that target and at most
    # one per real document. So it shares at most ~MAX_CHUNK_SHARE of its words with any
    # real document, and by chance rarely more than one chunk with another recombined one.
    sent_words = [len(x.split()) for x in sentences]
    while total < budget:
        n_words = max(MIN_WORDS, min(3000, int(rng.lognormvariate(math.log(300), 0.6))))
        cap = MAX_CHUNK_SHARE * n_words
        parts: list[int] = []
        got = 0
        used_docs: set[int] = set()
        paragraphs: list[str] = []
        para: list[str] = []
        while got < n_words:
            start = rng.randrange(n_sent)
            if sent_doc[start] in used_docs or sent_words[start] > cap:
                continue
            k = 1
            if (
                rng.random() < 0.5
                and start + 1 < n_sent
                and sent_doc[start + 1] == sent_doc[start]
                and sent_words[start] + sent_words[start + 1] <= cap
            ):
                k = 2
            used_docs.add(sent_doc[start])
            parts.extend(range(start, start + k))
            got += sum(sent_words[start : start + k])
            para.extend(sentences[start : start + k])
            if len(para) >= 3 and rng.random() < 0.35:
                paragraphs.append(" ".join(para))
                para = []
        if para:
            paragraphs.append(" ".join(para))
        text = "\n".join(paragraphs)
        meta = {"source": "recombined"}
        docs.append({"text": text, "metadata": meta, "_src": f"recombined/{len(syn_sets)}"})
        syn_sets.append(parts)
        total += _line_bytes({"text": text, "id": "d00000000", "metadata": meta})

    # Largest sentence-level overlap between recombined documents (and vs. real ones).
    max_overlap = _max_sentence_jaccard([set(p) for p in syn_sets], doc_sent_ids, sent_words)

    # Natural near-duplicates among the real documents.
    base_sh = [shingles(d["text"]) for d in base]
    truth: list[dict[str, Any]] = []
    natural_pairs = similar_pairs(base_sh, NATURAL_THRESHOLD)

    # Planted duplicates of known originals (real or recombined), >= 50 words.
    eligible = [i for i, d in enumerate(docs) if len(d["text"].split()) >= 50]
    n_plant = round(dup_fraction * len(docs))
    kinds = list(PLANT_KINDS)
    weights = [PLANT_KINDS[k] for k in kinds]
    planted_of: list[tuple[int, Planted]] = []
    for _ in range(n_plant):
        orig = rng.choice(eligible)
        kind = rng.choices(kinds, weights)[0]
        planted_of.append((orig, plant(kind, docs[orig]["text"], sentences, rng)))
    n_orig_docs = len(docs)
    for orig, p in planted_of:
        docs.append(
            {"text": p.text, "metadata": dict(docs[orig]["metadata"]), "_src": docs[orig]["_src"]}
        )

    # Opaque ids in a shuffled global order, then contiguous split over the files.
    order = list(range(len(docs)))
    rng.shuffle(order)
    ids = [""] * len(docs)
    for pos, idx in enumerate(order):
        ids[idx] = f"d{pos:08d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("part-*.jsonl.gz"):
        old.unlink()
    per_file = math.ceil(len(order) / n_files)
    file_of: dict[int, str] = {}
    files: list[dict[str, Any]] = []
    for k in range(n_files):
        chunk = order[k * per_file : (k + 1) * per_file]
        name = f"part-{k:05d}.jsonl.gz"
        for idx in chunk:
            file_of[idx] = name
        p = out_dir / name
        realdata.write_jsonl_gz(
            p,
            (
                {"text": docs[i]["text"], "id": ids[i], "metadata": docs[i]["metadata"]}
                for i in chunk
            ),
        )
        files.append({"file": name, "documents": len(chunk), "bytes": p.stat().st_size})

    for n, (orig, p) in enumerate(planted_of):
        dup_idx = n_orig_docs + n
        a, b = shingles(docs[orig]["text"]), shingles(p.text)
        truth.append(
            {
                "id": ids[dup_idx],
                "original_id": ids[orig],
                "kind": p.kind,
                "params": p.params,
                "jaccard": round(jaccard(a, b), 6),
                "same_text": p.text == docs[orig]["text"],
                "file": file_of[dup_idx],
                "original_file": file_of[orig],
                "original_source_id": docs[orig]["_src"],
            }
        )
    for i, j, jac in natural_pairs:
        truth.append(
            {
                "id": ids[j],
                "original_id": ids[i],
                "kind": "natural",
                "params": {},
                "jaccard": round(jac, 6),
                "same_text": base[i]["text"] == base[j]["text"],
                "file": file_of[j],
                "original_file": file_of[i],
                "original_source_id": docs[i]["_src"],
            }
        )
    truth.sort(key=lambda r: (r["original_id"], r["id"]))
    truth_path = truth_path or out_dir.parent / "truth.jsonl"
    with open(truth_path, "w", encoding="utf-8") as fh:
        for rec in truth:
            fh.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")

    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in truth:
        by_kind[r["kind"]].append(r["jaccard"])
    return {
        "documents": len(docs),
        "real_documents": len(base),
        "recombined_documents": len(syn_sets),
        "planted_documents": len(planted_of),
        "natural_pairs": len(natural_pairs),
        "english_sentence_pool": len(sentences),
        "uncompressed_bytes": total
        + sum(
            _line_bytes({"text": p.text, "id": "d00000000", "metadata": docs[o]["metadata"]})
            for o, p in planted_of
        ),
        "max_recombined_sentence_jaccard": round(max_overlap, 4),
        "truth_by_kind": {
            k: {"n": len(v), "min": min(v), "mean": round(sum(v) / len(v), 4), "max": max(v)}
            for k, v in sorted(by_kind.items())
        },
        "files": files,
    }


def similar_pairs(sets: Sequence[frozenset[str]], threshold: float) -> list[tuple[int, int, float]]:
    """Every (i, j, jaccard) with i < j and jaccard >= threshold > 0: an exact set-similarity
    join with prefix filtering.

    J(A, B) >= t implies |A & B| >= ceil(t * |A|), so with members ordered rarest first,
    the first |A| - ceil(t * |A|) + 1 members of A and of B share one: only those prefixes
    are indexed, and rare members make the candidate lists short.
    """
    freq: Counter[str] = Counter()
    for s in sets:
        freq.update(s)
    postings: dict[str, list[int]] = defaultdict(list)
    candidates: set[tuple[int, int]] = set()
    for i, s in enumerate(sets):
        if not s:
            continue
        ordered = sorted(s, key=lambda g: (freq[g], g))
        for g in ordered[: len(s) - math.ceil(threshold * len(s)) + 1]:
            for j in postings[g]:
                candidates.add((j, i))
            postings[g].append(i)
    out = []
    for i, j in sorted(candidates):
        a, b = sets[i], sets[j]
        if min(len(a), len(b)) >= threshold * max(len(a), len(b)):
            jac = len(a & b) / len(a | b)
            if jac >= threshold:
                out.append((i, j, jac))
    return out


def _max_sentence_jaccard(
    syn: list[set[int]], real: list[set[int]], weight: Sequence[int]
) -> float:
    """Largest word-weighted sentence-set Jaccard between two recombined documents or a
    recombined and a real one (sentences weighted by their word counts).

    Sentence ids are distinct texts, so this closely tracks how near recombination brings
    two documents in word 5-gram Jaccard.
    """
    groups = syn + [r for r in real if r]
    size = [sum(weight[i] for i in g) for g in groups]
    postings: dict[int, list[int]] = defaultdict(list)
    for gi, g in enumerate(groups):
        for sid in g:
            postings[sid].append(gi)
    n_syn = len(syn)
    best = 0.0
    for gi in range(n_syn):
        shared: Counter[int] = Counter()
        for sid in groups[gi]:
            for gj in postings[sid]:
                if gj != gi and (gj > gi or gj >= n_syn):
                    shared[gj] += weight[sid]
        for gj, w in shared.items():
            best = max(best, w / (size[gi] + size[gj] - w))
    return best


# ------------------------------------------------------------------ WARC corpus


def _replica_uri(uri: str, r: int) -> str:
    if r == 0:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}sy_replica={r}"


def build_warc(
    out_dir: Path,
    *,
    replicas: int,
    n_files: int = 4,
    seed: int = 0,
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """Write every real HTML page `replicas` times over `n_files` WARC.gz files."""
    rng = random.Random(seed + 1)
    pages = realdata.html_pages(cache_dir)
    base_uris: list[str] = []
    used: set[str] = set()
    for page in pages:
        uri = realdata.page_url(page)
        if uri in used:  # identical pages shipped by two packages share a canonical URL
            uri = f"http://{page.source}.invalid/{page.name}"
        used.add(uri)
        base_uris.append(uri)
    items = [(i, r) for r in range(replicas) for i in range(len(pages))]
    rng.shuffle(items)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("part-*.warc.gz"):
        old.unlink()
    files = []
    per_file = math.ceil(len(items) / n_files)
    for k in range(n_files):
        chunk = items[k * per_file : (k + 1) * per_file]
        name = f"part-{k:05d}.warc.gz"
        p = out_dir / name
        n = realdata.write_html_warc(
            p,
            ((_replica_uri(base_uris[i], r), pages[i].read()) for i, r in chunk),
            warcinfo={"software": "shardyard bench.corpus", "format": "WARC File Format 1.0"},
        )
        files.append({"file": name, "responses": n, "bytes": p.stat().st_size})
    html_bytes = sum(p.path.stat().st_size for p in pages)
    return {
        "pages": len(pages),
        "pages_by_source": dict(Counter(p.source for p in pages)),
        "distinct_page_payloads": len({hashlib.sha256(p.read()).hexdigest() for p in pages}),
        "replicas": replicas,
        "responses": len(items),
        "html_bytes": html_bytes * replicas,
        "files": files,
    }


# ------------------------------------------------------------------ CLI


def build(
    out: str | Path,
    *,
    jsonl_mb: float = 50,
    jsonl_files: int = 8,
    dup_fraction: float = 0.04,
    warc_replicas: int = 4,
    warc_files: int = 4,
    seed: int = 0,
    cache_dir: str | None = None,
    parts: Iterable[str] = ("jsonl", "warc"),
) -> dict[str, Any]:
    """Build the requested corpora under `out`; write and return the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    realdata.ensure_sources(cache_dir)
    manifest: dict[str, Any] = {
        "params": {
            "jsonl_mb": jsonl_mb,
            "jsonl_files": jsonl_files,
            "dup_fraction": dup_fraction,
            "warc_replicas": warc_replicas,
            "warc_files": warc_files,
            "seed": seed,
        },
        "sources": {
            s.key: {"requirement": s.requirement, "sha256": s.sha256} for s in realdata.SOURCES
        },
        "jaccard": "word 5-gram sets after datatrove 0.10.1 simplify_text defaults, whitespace split",
    }
    parts = set(parts)
    timings: dict[str, float] = {}
    if "jsonl" in parts:
        t0 = time.perf_counter()
        manifest["jsonl"] = build_jsonl(
            out / "jsonl",
            target_mb=jsonl_mb,
            n_files=jsonl_files,
            dup_fraction=dup_fraction,
            seed=seed,
            cache_dir=cache_dir,
            truth_path=out / "truth.jsonl",
        )
        timings["jsonl"] = round(time.perf_counter() - t0, 2)
    if "warc" in parts:
        t0 = time.perf_counter()
        manifest["warc"] = build_warc(
            out / "warc", replicas=warc_replicas, n_files=warc_files, seed=seed, cache_dir=cache_dir
        )
        timings["warc"] = round(time.perf_counter() - t0, 2)
    # The manifest is deterministic; timings are returned (and printed by the CLI) only.
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "seconds": timings}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.corpus",
        description="Build the benchmark corpora (JSONL.gz with planted duplicates + truth, "
        "WARC.gz of real HTML pages) from the pinned real data. Deterministic for a seed.",
        epilog="example: python -m bench.corpus --out data/bench --jsonl-mb 50 --warc-replicas 4",
    )
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--jsonl-mb", type=float, default=50, help="JSONL size, uncompressed MB")
    ap.add_argument("--jsonl-files", type=int, default=8)
    ap.add_argument("--dup-fraction", type=float, default=0.04, help="planted docs per doc")
    ap.add_argument("--warc-replicas", type=int, default=4, help="copies of each HTML page")
    ap.add_argument("--warc-files", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", help="real-data cache (default: see bench.realdata)")
    ap.add_argument("--only", choices=("jsonl", "warc"), help="build one corpus only")
    args = ap.parse_args(argv)
    try:
        manifest = build(
            args.out,
            jsonl_mb=args.jsonl_mb,
            jsonl_files=args.jsonl_files,
            dup_fraction=args.dup_fraction,
            warc_replicas=args.warc_replicas,
            warc_files=args.warc_files,
            seed=args.seed,
            cache_dir=args.cache_dir,
            parts=(args.only,) if args.only else ("jsonl", "warc"),
        )
    except realdata.RealDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = {
        k: {kk: vv for kk, vv in v.items() if kk != "files"} if isinstance(v, dict) else v
        for k, v in manifest.items()
        if k in ("jsonl", "warc", "seconds")
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
