"""The quality filters and formatters as a YAML-style spec: registry names, params, a real run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blocks.errors import SpecError
from blocks.pipeline import run_pipeline
from blocks.registry import blocks
from blocks.spec import PipelineSpec, build_pipeline

PROSE = (
    "The history of the town is closely tied to the river, which brought trade and settlers "
    "to the valley. Farmers grew wheat and barley on the fertile plains. Merchants built "
    "warehouses along the banks to store the grain. Over the centuries the town grew into a "
    "regional center. It has a market, a school and a hospital that serve the villages. "
    "Write to the mayor at mayor@town-hall.org for details."
)

NAMES = [
    "GopherQualityFilter",
    "GopherRepetitionFilter",
    "C4QualityFilter",
    "C4ParagraphFilter",
    "C4BadWordsFilter",
    "FineWebQualityFilter",
    "URLFilter",
    "PIIFormatter",
    "FTFYFormatter",
    "SymbolLinesFormatter",
]


def test_every_block_is_registered_by_its_datatrove_name() -> None:
    known = blocks()
    for name in NAMES:
        assert name in known


def test_spec_builds_and_runs(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    records = [
        {"text": PROSE, "id": "good", "metadata": {"url": "https://town.example.com/history"}},
        {"text": "Too short.", "id": "short", "metadata": {"url": "https://town.example.com/x"}},
        {"text": PROSE, "id": "blocked", "metadata": {"url": "https://spam.example.net/x"}},
    ]
    (inp / "part.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    spec = {
        "name": "quality",
        "stages": [
            {
                "name": "main",
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(inp)}},
                    {"FTFYFormatter": {}},
                    {
                        "URLFilter": {
                            "use_integrated_lists": False,
                            "extra_domains": ["spam.example.net"],
                        }
                    },
                    {
                        "GopherQualityFilter": {
                            "min_doc_words": 20,
                            "exclusion_writer": {
                                "JsonlWriter": {
                                    "output_folder": str(tmp_path / "removed"),
                                    "compression": None,
                                }
                            },
                        }
                    },
                    {"GopherRepetitionFilter": {"top_n_grams": [[2, 0.2], [3, 0.18]]}},
                    {"C4QualityFilter": {"filter_no_terminal_punct": False}},
                    {"FineWebQualityFilter": {}},
                    {"C4BadWordsFilter": {"badwords": ["darn"]}},
                    {"PIIFormatter": {"email_replacement": "<email>"}},
                    {"SymbolLinesFormatter": {}},
                    {"JsonlWriter": {"output_folder": str(tmp_path / "out"), "compression": None}},
                ],
            }
        ],
    }
    stage = PipelineSpec.from_dict(spec).stages[0]
    run_pipeline(build_pipeline(stage))
    out = [
        json.loads(line)
        for p in (tmp_path / "out").glob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    assert [r["id"] for r in out] == ["good"]
    assert "<email>" in out[0]["text"] and "mayor@" not in out[0]["text"]
    removed = [
        json.loads(line)
        for p in (tmp_path / "removed").glob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    assert [(r["id"], r["metadata"]["filter_reason"]) for r in removed] == [
        ("short", "gopher_short_doc")
    ]


@pytest.mark.parametrize(
    ("block", "params"),
    [
        ("GopherQualityFilter", {"min_doc_words": "fifty"}),
        ("C4QualityFilter", {"split_paragraph": "yes"}),
        ("FineWebQualityFilter", {"line_punct_thr": [1]}),
    ],
)
def test_mistyped_params_are_refused(block: str, params: dict[str, Any]) -> None:
    spec = {"name": "t", "stages": [{"name": "main", "pipeline": [{block: params}]}]}
    with pytest.raises(SpecError):
        PipelineSpec.from_dict(spec)
