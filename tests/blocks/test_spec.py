"""Spec validation names the YAML path of every mistake; specs and Python pipelines agree."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from blocks.base import BaseFilter, DocumentsSource, FunctionStep, PipelineStep
from blocks.document import Document
from blocks.errors import MissingDependencyError, SpecError
from blocks.filters import LambdaFilter, RegexFilter, SamplerFilter
from blocks.pipeline import run_pipeline
from blocks.readers import JsonlReader
from blocks.registry import register_function
from blocks.spec import PipelineSpec, build_pipeline, load_spec
from blocks.writers import JsonlWriter, ParquetWriter

ROOT = Path(__file__).resolve().parents[2]


# -- test blocks and functions (registered for the whole session, names kept unique) --------
@register_function("spec_test_is_short")
def spec_test_is_short(doc: Document) -> bool:
    return len(doc.text) < 20


@register_function("spec_test_upper")
def spec_test_upper(data: Any, rank: int = 0, world_size: int = 1) -> Any:
    for doc in data:
        doc.text = doc.text.upper()
        yield doc


class SpecTestNeedsMissingModule(BaseFilter):
    _requires_dependencies = (("shardyard_no_such_module_xyz", "processing"),)

    def filter(self, doc: Document) -> bool:
        return True


class SpecTestForwardingSampler(SamplerFilter):
    """Forwards its **kwargs to SamplerFilter: the parent's names are checked."""

    def __init__(self, label: str = "x", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label


class SpecTestOpenOptions(BaseFilter):
    """Keeps its **kwargs as library options: any name goes."""

    def __init__(self, threshold: int, **options: Any) -> None:
        super().__init__()
        self.threshold = threshold
        self.options = options

    def filter(self, doc: Document) -> bool:
        return True


def _spec(*blocks: Any, **stage: Any) -> dict[str, Any]:
    return {"name": "t", "stages": [{"name": "main", "pipeline": list(blocks), **stage}]}


def _error(data: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        PipelineSpec.from_dict(data)
    return info.value


READER = {"JsonlReader": {"data_folder": "in"}}


# -- validation: every message names the path -------------------------------------------
def test_unknown_block_suggests_the_closest_name() -> None:
    err = _error(_spec(READER, {"SampleFilter": {"rate": 0.5}}))
    assert err.path == "stages[0].pipeline[1]"
    assert "unknown block 'SampleFilter'" in str(err) and "did you mean 'SamplerFilter'" in str(err)
    err = _error(_spec(READER, {"CompletelyDifferent": {}}))
    assert "did you mean" not in str(err)


def test_unknown_parameter_suggests_the_closest_name() -> None:
    err = _error(_spec(READER, {"SamplerFilter": {"rat": 0.5}}))
    assert err.path == "stages[0].pipeline[1].SamplerFilter.rat"
    assert "did you mean 'rate'" in str(err)
    err = _error(_spec({"JsonlReader": {"data_folder": "in", "glob_patern": "*.gz"}}))
    assert err.path == "stages[0].pipeline[0].JsonlReader.glob_patern"
    assert "did you mean 'glob_pattern'" in str(err)


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"rate": "high"}, "rate", "expected a number"),
        ({"rate": True}, "rate", "expected a number"),
        ({"seed": 1.5}, "seed", "expected an integer"),
        ({"seed": "7"}, "seed", "expected an integer"),
    ],
)
def test_mistyped_parameters(params: dict[str, Any], path: str, message: str) -> None:
    err = _error(_spec(READER, {"SamplerFilter": params}))
    assert err.path == f"stages[0].pipeline[1].SamplerFilter.{path}"
    assert message in str(err)


def test_mistyped_parameters_of_other_shapes() -> None:
    err = _error(_spec({"JsonlReader": {"data_folder": "in", "limit": "ten"}}))
    assert err.path.endswith("JsonlReader.limit") and "expected an integer" in str(err)
    err = _error(_spec({"JsonlReader": {"data_folder": "in", "default_metadata": [1]}}))
    assert err.path.endswith("default_metadata") and "expected a mapping" in str(err)
    err = _error(_spec(READER, {"ParquetWriter": {"output_folder": "o", "compression": "lzma"}}))
    assert err.path.endswith("ParquetWriter.compression") and "must be one of" in str(err)


def test_missing_required_parameter() -> None:
    err = _error(_spec(READER, {"RegexFilter": {}}))
    assert err.path == "stages[0].pipeline[1].RegexFilter.regex_exp"
    assert "missing required parameter 'regex_exp'" in str(err)
    err = _error(_spec({"JsonlReader": None}))
    assert err.path == "stages[0].pipeline[0].JsonlReader.data_folder"


def test_nested_exclusion_writer_is_validated_with_its_own_path() -> None:
    good = _spec(
        READER,
        {
            "RegexFilter": {
                "regex_exp": "cookie",
                "exclusion_writer": {"JsonlWriter": {"output_folder": "out/removed"}},
            }
        },
    )
    (_, regex) = build_pipeline(PipelineSpec.from_dict(good).stages[0])
    assert isinstance(regex, RegexFilter) and isinstance(regex.exclusion_writer, JsonlWriter)
    assert regex.exclusion_writer.output_folder.path.endswith("out/removed")

    bad_param = _spec(
        READER,
        {
            "RegexFilter": {
                "regex_exp": "x",
                "exclusion_writer": {"JsonlWriter": {"output_foldr": "o"}},
            }
        },
    )
    err = _error(bad_param)
    assert err.path == "stages[0].pipeline[1].RegexFilter.exclusion_writer.JsonlWriter.output_foldr"
    assert "did you mean 'output_folder'" in str(err)

    bad_block = _spec(
        READER, {"RegexFilter": {"regex_exp": "x", "exclusion_writer": {"JsonWriter": {}}}}
    )
    err = _error(bad_block)
    assert err.path == "stages[0].pipeline[1].RegexFilter.exclusion_writer"
    assert "did you mean 'JsonlWriter'" in str(err)

    err = _error(_spec(READER, {"RegexFilter": {"regex_exp": "x", "exclusion_writer": 3}}))
    assert err.path.endswith("RegexFilter.exclusion_writer") and "a block must be" in str(err)


def test_registered_functions_for_lambda_filter_and_function_steps() -> None:
    spec = PipelineSpec.from_dict(
        _spec(
            {
                "Documents": {
                    "documents": [{"text": "short", "id": "1"}, {"text": "x" * 50, "id": "2"}]
                }
            },
            {"LambdaFilter": {"filter_function": "spec_test_is_short"}},
            "spec_test_upper",
        )
    )
    steps = build_pipeline(spec.stages[0])
    assert isinstance(steps[1], LambdaFilter) and steps[1].filter_function is spec_test_is_short
    assert isinstance(steps[2], FunctionStep) and steps[2].function is spec_test_upper
    stats = run_pipeline(steps)
    assert stats["LambdaFilter"].stats["forwarded"].n == 1
    assert stats["spec_test_upper"].name == "spec_test_upper"

    err = _error(_spec(READER, {"LambdaFilter": {"filter_function": "spec_test_is_shrt"}}))
    assert err.path == "stages[0].pipeline[1].LambdaFilter.filter_function"
    assert "did you mean 'spec_test_is_short'" in str(err)
    err = _error(_spec(READER, {"spec_test_upper": {"x": 1}}))
    assert "takes no parameters" in str(err)


def test_python_callables_must_be_registered() -> None:
    with pytest.raises(SpecError, match="register_function") as info:
        PipelineSpec.from_pipeline([JsonlReader("in"), LambdaFilter(lambda d: True)])
    assert info.value.path == "pipeline[1].LambdaFilter.filter_function"
    with pytest.raises(SpecError, match="not registered"):
        PipelineSpec.from_pipeline([[Document("a", "1")], lambda data, rank, ws: data])


def test_missing_dependency_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError, match=r"pip install 'shardyard\[processing\]'"):
        PipelineSpec.from_dict(_spec(READER, "SpecTestNeedsMissingModule"))


def test_forwarded_kwargs_are_checked_against_the_parent() -> None:
    ok = PipelineSpec.from_dict(
        _spec(READER, {"SpecTestForwardingSampler": {"label": "a", "rate": 0.3}})
    )
    (_, block) = build_pipeline(ok.stages[0])
    assert isinstance(block, SpecTestForwardingSampler) and block.rate == 0.3
    err = _error(_spec(READER, {"SpecTestForwardingSampler": {"rat": 0.3}}))
    assert "did you mean 'rate'" in str(err)
    err = _error(_spec(READER, {"SpecTestForwardingSampler": {"rate": "x"}}))
    assert err.path.endswith("SpecTestForwardingSampler.rate")
    # options kept for a library are open: any name, but own parameters are still required
    PipelineSpec.from_dict(
        _spec(READER, {"SpecTestOpenOptions": {"threshold": 1, "anything": [1]}})
    )
    err = _error(_spec(READER, {"SpecTestOpenOptions": {"anything": 1}}))
    assert "missing required parameter 'threshold'" in str(err)


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ([], "", "must be a mapping"),
        ({"stages": []}, "name", "required field is missing"),
        ({"name": "t", "stagse": []}, "stagse", "did you mean 'stages'"),
        ({"name": "t", "stages": []}, "stages", "at least one stage"),
        ({"name": "t", "stages": ["x"]}, "stages[0]", "must be a mapping"),
        (_spec(READER, tasks=0), "stages[0].tasks", "at least 1"),
        (_spec(READER, tasks="4"), "stages[0].tasks", "expected int"),
        (_spec(READER, sharding="random"), "stages[0].sharding", "must be one of"),
        (_spec(READER, max_attempts=0), "stages[0].max_attempts", "at least 1"),
        (
            _spec(READER, randomize_start_duration="1s"),
            "stages[0].randomize_start_duration",
            "seconds",
        ),
        (_spec(READER, workerz=2), "stages[0].workerz", "did you mean 'workers'"),
        (_spec(), "stages[0].pipeline", "at least one block"),
        (_spec({"A": {}, "B": {}}), "stages[0].pipeline[0]", "exactly one key"),
        (_spec({"SamplerFilter": [1]}), "stages[0].pipeline[0].SamplerFilter", "must be a mapping"),
    ],
)
def test_structural_errors(data: Any, path: str, message: str) -> None:
    err = _error(data)
    assert err.path == path and message in str(err)


def test_duplicate_stage_names_are_refused() -> None:
    stage = {"name": "same", "pipeline": [READER]}
    err = _error({"name": "t", "stages": [stage, stage]})
    assert err.path == "stages" and "unique" in str(err)


def test_bad_yaml_and_unreadable_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nstages:\n  - name: main\n    pipeline: [\n      - JsonlReader\n")
    with pytest.raises(SpecError, match="not valid YAML") as info:
        PipelineSpec.from_file(bad)
    assert "line" in str(info.value)  # the parser's position helps find the mistake
    with pytest.raises(SpecError, match="cannot read spec"):
        PipelineSpec.from_file(tmp_path / "missing.yaml")
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        textwrap.dedent(
            """
            name: t
            stages:
              - name: main
                pipeline:
                  - JsonlReader: {data_folder: in}
                  - SamplerFilter: {rate: lots}
            """
        )
    )
    with pytest.raises(SpecError, match=r"stages\[0\]\.pipeline\[1\]\.SamplerFilter\.rate"):
        load_spec(typo)


# -- hashing ----------------------------------------------------------------------------
def test_spec_hash_is_stable_and_follows_the_params(tmp_path: Path) -> None:
    data = _spec(READER, {"SamplerFilter": {"rate": 0.5, "seed": 1}})
    h = PipelineSpec.from_dict(data).spec_hash()
    assert len(h) == 64
    reordered = _spec(READER, {"SamplerFilter": {"seed": 1, "rate": 0.5}})
    assert PipelineSpec.from_dict(reordered).spec_hash() == h  # key order does not matter
    changed = _spec(READER, {"SamplerFilter": {"rate": 0.6, "seed": 1}})
    assert PipelineSpec.from_dict(changed).spec_hash() != h
    more_tasks = _spec(READER, {"SamplerFilter": {"rate": 0.5, "seed": 1}}, tasks=2)
    assert PipelineSpec.from_dict(more_tasks).spec_hash() != h
    # the same in a fresh interpreter (different hash seed): nothing process-dependent
    spec_file = tmp_path / "s.yaml"
    import yaml

    spec_file.write_text(yaml.safe_dump(data))
    code = f"from blocks.spec import load_spec; print(load_spec({str(spec_file)!r}).spec_hash())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == h


# -- Python pipeline -> spec -> rebuilt pipeline ----------------------------------------
def _python_pipeline(root: Path) -> list[Any]:
    return [
        JsonlReader(str(root / "in"), glob_pattern="*.jsonl.gz", limit=-1),
        RegexFilter(r"(?i)cookie", exclusion_writer=JsonlWriter(str(root / "removed"))),
        LambdaFilter(spec_test_is_short),
        SamplerFilter(rate=0.7, seed=3),
        spec_test_upper,
        ParquetWriter(str(root / "out"), batch_size=10, compression="zstd"),
    ]


def _params(step: PipelineStep) -> dict[str, Any]:
    out = {}
    for key, value in step.spec_params.items():
        out[key] = _params(value) if isinstance(value, PipelineStep) else value
    return {type(step).__name__: out}


def test_python_pipeline_to_spec_and_back_is_equivalent(tmp_path: Path) -> None:
    original = _python_pipeline(tmp_path)
    spec = PipelineSpec.from_pipeline(original, name="p", tasks=4)
    assert spec.stages[0].tasks == 4
    assert [b.name for b in spec.stages[0].pipeline] == [
        "JsonlReader",
        "RegexFilter",
        "LambdaFilter",
        "SamplerFilter",
        "spec_test_upper",
        "ParquetWriter",
    ]
    rebuilt = build_pipeline(spec.stages[0])
    assert [type(s) for s in rebuilt[:4]] == [type(s) for s in original[:4]]
    assert isinstance(rebuilt[4], FunctionStep) and rebuilt[4].function is spec_test_upper
    for before, after in zip(original[:4] + original[5:], rebuilt[:4] + rebuilt[5:], strict=True):
        assert _params(after) == _params(before)
    # a spec made from the rebuilt pipeline is the same spec (a fixed point)
    again = PipelineSpec.from_pipeline(
        [*rebuilt[:4], spec_test_upper, rebuilt[5]], name="p", tasks=4
    )
    assert again.spec_hash() == spec.spec_hash()
    assert PipelineSpec.from_dict(spec.to_json()).spec_hash() == spec.spec_hash()


def test_python_and_rebuilt_pipelines_produce_the_same_output(tmp_path: Path) -> None:
    import gzip
    import json

    import pyarrow.parquet as pq

    (tmp_path / "in").mkdir()
    texts = ["accept our Cookie policy", "tiny", "a much longer text than twenty chars"] + [
        f"doc {i}" for i in range(40)
    ]
    with gzip.open(tmp_path / "in" / "a.jsonl.gz", "wt") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"text": text, "id": str(i)}) + "\n")
    run_pipeline(_python_pipeline(tmp_path))
    first = pq.read_table(tmp_path / "out" / "00000.parquet").to_pylist()
    removed_first = (tmp_path / "removed" / "00000.jsonl.gz").read_bytes()
    spec = PipelineSpec.from_pipeline(_python_pipeline(tmp_path))
    run_pipeline(build_pipeline(spec.stages[0]))
    assert pq.read_table(tmp_path / "out" / "00000.parquet").to_pylist() == first
    assert gzip.decompress(
        (tmp_path / "removed" / "00000.jsonl.gz").read_bytes()
    ) == gzip.decompress(removed_first)
    assert all(r["text"] == r["text"].upper() for r in first) and 0 < len(first) < 42


def test_leading_documents_round_trip_through_the_spec() -> None:
    docs = [Document("a", "1", {"k": [1, 2]}), Document("b", "2")]
    spec = PipelineSpec.from_pipeline([docs, spec_test_upper])
    (source, _) = build_pipeline(spec.stages[0])
    assert isinstance(source, DocumentsSource) and source.documents == docs


def test_example_specs_validate() -> None:
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    assert examples, "examples/*.yaml are missing"
    for path in examples:
        spec = load_spec(path)
        for stage in spec.stages:
            build_pipeline(stage)
