"""Pipeline specs: the same pipeline from YAML or from Python, validated before anything runs.

YAML::

    name: filter-news
    logging_dir: logs/filter-news       # optional
    stages:
      - name: filter
        tasks: 8
        pipeline:
          - JsonlReader: {data_folder: data/in, glob_pattern: "*.jsonl.gz"}
          - SamplerFilter: {rate: 0.5}
          - JsonlWriter: {output_folder: data/out}

Errors name the YAML path of the bad field (``stages[0].pipeline[1].SamplerFilter.rate``).
``spec_hash()`` is a sha256 of the canonical JSON, so a run id can refuse a changed spec.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from blocks import registry
from blocks.base import DocumentsSource, FunctionStep, PipelineStep
from blocks.document import Document
from blocks.errors import SpecError
from blocks.io import DataFolder

SHARDING = ("round_robin", "by_size")
_STAGE_KEYS = {
    "name",
    "tasks",
    "workers",
    "pipeline",
    "sharding",
    "target_shard_bytes",
    "max_attempts",
    "randomize_start_duration",
}
_SPEC_KEYS = {"name", "stages", "logging_dir", "depends", "plugins"}


@dataclass(frozen=True)
class BlockSpec:
    """One block: its registered name and JSON-able parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def to_json(self) -> dict[str, Any]:
        return {self.name: self.params}


@dataclass(frozen=True)
class StageSpec:
    name: str
    tasks: int
    pipeline: tuple[BlockSpec, ...]
    workers: int = -1
    sharding: str = "round_robin"
    target_shard_bytes: int = 256 * 1024 * 1024
    max_attempts: int = 3
    randomize_start_duration: float = 0.0
    path: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tasks": self.tasks,
            "workers": self.workers,
            "sharding": self.sharding,
            "target_shard_bytes": self.target_shard_bytes,
            "max_attempts": self.max_attempts,
            "randomize_start_duration": self.randomize_start_duration,
            "pipeline": [b.to_json() for b in self.pipeline],
        }


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    stages: tuple[StageSpec, ...]
    logging_dir: str | None = None
    depends: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "stages": [s.to_json() for s in self.stages]}
        if self.logging_dir is not None:
            out["logging_dir"] = self.logging_dir
        if self.depends:
            out["depends"] = list(self.depends)
        if self.plugins:
            out["plugins"] = list(self.plugins)
        return out

    def canonical_json(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def spec_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def stage(self, name_or_index: str | int) -> StageSpec:
        if isinstance(name_or_index, int):
            return self.stages[name_or_index]
        for stage in self.stages:
            if stage.name == name_or_index:
                return stage
        raise SpecError(f"no stage named {name_or_index!r} in {self.name!r}")

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> PipelineSpec:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise SpecError(f"cannot read spec {path}: {err.strerror or err}") from err
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise SpecError(f"{path} is not valid YAML: {err}") from err
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> PipelineSpec:
        """Validate a decoded YAML/JSON spec, every block and parameter included."""
        if not isinstance(data, Mapping):
            raise SpecError("a spec must be a mapping with 'name' and 'stages'")
        _no_unknown(data, _SPEC_KEYS, "")
        name = _require(data, "name", str, "")
        plugins = tuple(_typed(data.get("plugins", []), list, "plugins"))
        registry.load_plugins(plugins)
        raw_stages = _require(data, "stages", list, "")
        if not raw_stages:
            raise SpecError("at least one stage is needed", path="stages")
        stages = tuple(_parse_stage(s, f"stages[{i}]") for i, s in enumerate(raw_stages))
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise SpecError(f"stage names must be unique, got {names}", path="stages")
        logging_dir = data.get("logging_dir")
        if logging_dir is not None:
            _typed(logging_dir, str, "logging_dir")
        depends = tuple(_typed(data.get("depends", []), list, "depends"))
        return cls(
            name=name, stages=stages, logging_dir=logging_dir, depends=depends, plugins=plugins
        )

    @classmethod
    def from_pipeline(
        cls,
        pipeline: Sequence[Any],
        *,
        name: str = "pipeline",
        tasks: int = 1,
        stage: str = "main",
        logging_dir: str | None = None,
        **stage_options: Any,
    ) -> PipelineSpec:
        """The spec of a pipeline built in Python (blocks, registered functions, Documents)."""
        stage_dict: dict[str, Any] = {
            "name": stage,
            "tasks": tasks,
            "pipeline": [
                _block_from_object(step, f"pipeline[{i}]") for i, step in enumerate(pipeline)
            ],
            **stage_options,
        }
        data: dict[str, Any] = {"name": name, "stages": [stage_dict]}
        if logging_dir is not None:
            data["logging_dir"] = logging_dir
        return cls.from_dict(json.loads(json.dumps(data)))  # validated exactly like YAML


def load_spec(source: str | Path | Mapping[str, Any] | PipelineSpec) -> PipelineSpec:
    if isinstance(source, PipelineSpec):
        return source
    if isinstance(source, Mapping):
        return PipelineSpec.from_dict(source)
    return PipelineSpec.from_file(source)


# -- parsing helpers ---------------------------------------------------------------
def _no_unknown(data: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in data:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SpecError(f"unknown field {key!r}{hint}", path=_join(path, str(key)))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _typed(value: Any, kind: type, path: str) -> Any:
    if kind is int and isinstance(value, bool):
        raise SpecError(f"expected an integer, got {value!r}", path=path)
    if not isinstance(value, kind):
        raise SpecError(
            f"expected {kind.__name__}, got {type(value).__name__} {value!r}", path=path
        )
    return value


def _require(data: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    if key not in data:
        raise SpecError("required field is missing", path=_join(path, key))
    return _typed(data[key], kind, _join(path, key))


def _parse_stage(raw: Any, path: str) -> StageSpec:
    if not isinstance(raw, Mapping):
        raise SpecError("a stage must be a mapping", path=path)
    _no_unknown(raw, _STAGE_KEYS, path)
    name = _require(raw, "name", str, path)
    tasks = _typed(raw.get("tasks", 1), int, _join(path, "tasks"))
    if tasks < 1:
        raise SpecError(f"must be at least 1, got {tasks}", path=_join(path, "tasks"))
    workers = _typed(raw.get("workers", -1), int, _join(path, "workers"))
    sharding = _typed(raw.get("sharding", "round_robin"), str, _join(path, "sharding"))
    if sharding not in SHARDING:
        raise SpecError(
            f"must be one of {list(SHARDING)}, got {sharding!r}", path=_join(path, "sharding")
        )
    target = _typed(
        raw.get("target_shard_bytes", 256 * 1024 * 1024), int, _join(path, "target_shard_bytes")
    )
    max_attempts = _typed(raw.get("max_attempts", 3), int, _join(path, "max_attempts"))
    if max_attempts < 1:
        raise SpecError("must be at least 1", path=_join(path, "max_attempts"))
    rsd = raw.get("randomize_start_duration", 0)
    if isinstance(rsd, bool) or not isinstance(rsd, (int, float)):
        raise SpecError(
            "expected a number of seconds", path=_join(path, "randomize_start_duration")
        )
    pipeline = _require(raw, "pipeline", list, path)
    if not pipeline:
        raise SpecError("a stage needs at least one block", path=_join(path, "pipeline"))
    blocks = tuple(
        parse_block(b, f"{_join(path, 'pipeline')}[{i}]") for i, b in enumerate(pipeline)
    )
    return StageSpec(
        name=name,
        tasks=tasks,
        pipeline=blocks,
        workers=workers,
        sharding=sharding,
        target_shard_bytes=target,
        max_attempts=max_attempts,
        randomize_start_duration=float(rsd),
        path=path,
    )


def parse_block(raw: Any, path: str) -> BlockSpec:
    """Parse and validate ``{BlockName: {param: value}}`` (or a bare ``BlockName``)."""
    if isinstance(raw, str):
        raw = {raw: {}}
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise SpecError("a block must be a mapping with exactly one key, the block name", path=path)
    ((name, params),) = raw.items()
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise SpecError("block parameters must be a mapping", path=_join(path, str(name)))
    cls = registry.get_block(str(name), path=path)
    bpath = _join(path, str(name))
    if cls is FunctionStep:
        if params:
            raise SpecError("a function step takes no parameters", path=bpath)
    else:
        validate_params(cls, dict(params), bpath)
    return BlockSpec(name=str(name), params=dict(params), path=bpath)


def _forwards_kwargs(init: Any, kwargs_name: str) -> bool:
    """Whether ``init`` passes its ``**kwargs`` on with ``super().__init__(..., **kwargs)``."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "super"
        ):
            for kw in node.keywords:
                if kw.arg is None and isinstance(kw.value, ast.Name) and kw.value.id == kwargs_name:
                    return True
    return False


def _accepted_params(cls: type) -> tuple[dict[str, inspect.Parameter], set[str], bool]:
    """A block's own parameters, every name it accepts, and whether it accepts any name.

    A constructor whose ``**kwargs`` go to ``super().__init__(**kwargs)`` accepts the
    names its parents take (type-checked too), so a misspelt one is still refused. Other
    ``**kwargs`` (options passed on to a library, as Trafilatura's are) accept any name.
    Only the block's own parameters can be required: a parent's required parameter may
    be filled in by the subclass itself.
    """
    own: dict[str, inspect.Parameter] = {}
    known: set[str] = set()
    first = True
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            return own, known, True
        params = inspect.signature(init).parameters
        forwards = False
        for pname, param in params.items():
            if pname == "self" or param.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                if not _forwards_kwargs(init, pname):
                    return own, known, True
                forwards = True
                continue
            known.add(pname)
            if first:
                own[pname] = param
        first = False
        if not forwards:
            return own, known, False
    return own, known, True


def validate_params(cls: type[PipelineStep], params: dict[str, Any], path: str) -> None:
    """Check a block's parameters against its constructor: names, required ones, types."""
    cls.check_dependencies()
    own, known, open_ended = _accepted_params(cls)
    hints = _hints(cls)
    if not open_ended:
        for key in params:
            if key not in known:
                import difflib

                names = sorted(known)
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(names)}"
                raise SpecError(
                    f"unknown parameter {key!r} for {cls.__name__}{hint}", path=_join(path, key)
                )
    for pname, param in own.items():
        if pname not in params and param.default is inspect.Parameter.empty:
            raise SpecError(
                f"missing required parameter {pname!r} of {cls.__name__}",
                path=_join(path, pname),
            )
    for key, value in params.items():
        if key in hints:
            _check_type(value, hints[key], _join(path, key))


def _hints(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            hints.update(typing.get_type_hints(init))
        except Exception:
            continue
    hints.pop("return", None)
    return hints


def _check_type(value: Any, hint: Any, path: str) -> None:
    """Check a YAML value against a constructor annotation (the JSON-representable part)."""
    if hint is Any or hint is object:
        return
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in args if value is None or a is not type(None)]
        errors: list[SpecError] = []
        for arm in arms:
            try:
                _check_type(value, arm, path)
                return
            except SpecError as err:
                errors.append(err)
        # An arm that failed deeper inside the value (a nested block's parameter) or the
        # only arm left is the one the user meant: report its own error and path.
        deeper = [e for e in errors if e.path != path]
        if len(errors) == 1 or deeper:
            raise (deeper or errors)[0]
        raise SpecError(
            f"{value!r} matches none of: {'; '.join(e.message for e in errors)}", path=path
        )
    if hint is type(None):
        if value is not None:
            raise SpecError(f"expected null, got {value!r}", path=path)
        return
    if origin is Literal:
        if value not in args:
            raise SpecError(f"must be one of {list(args)}, got {value!r}", path=path)
        return
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(f"expected true or false, got {value!r}", path=path)
        return
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"expected an integer, got {value!r}", path=path)
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"expected a number, got {value!r}", path=path)
        return
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(f"expected a string, got {value!r}", path=path)
        return
    if origin in (list, tuple, set, frozenset, Sequence, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"expected a list, got {value!r}", path=path)
        if args and args[-1] is not Ellipsis and origin is not tuple:
            for i, item in enumerate(value):
                _check_type(item, args[0], f"{path}[{i}]")
        return
    if origin in (dict, Mapping, typing.Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            raise SpecError(f"expected a mapping, got {value!r}", path=path)
        return
    if origin is Callable or hint is Callable or (origin is not None and "Callable" in str(origin)):
        if callable(value):
            return
        if not isinstance(value, str):
            raise SpecError(f"expected the name of a registered function, got {value!r}", path=path)
        registry.get_function(value, path=path)
        return
    if isinstance(hint, type) and issubclass(hint, PipelineStep):
        if isinstance(value, PipelineStep):
            return
        parse_block(value, path)
        return
    if hint is DataFolder:
        return
    # other annotations (classes of the block's own) are not checked here


# -- building ------------------------------------------------------------------------
def build_block(spec: BlockSpec) -> PipelineStep:
    """Instantiate a validated block spec (nested blocks and function names resolved)."""
    cls = registry.get_block(spec.name, path=spec.path)
    if cls is FunctionStep:
        fn = registry.get_function(spec.name, path=spec.path)
        return FunctionStep(fn, name=spec.name)
    hints = _hints(cls)
    kwargs = {k: _materialize(v, hints.get(k), _join(spec.path, k)) for k, v in spec.params.items()}
    if cls is DocumentsSource:
        kwargs["documents"] = [
            d
            if isinstance(d, Document)
            else Document(d["text"], str(d["id"]), dict(d.get("metadata") or {}))
            for d in kwargs.get("documents", [])
        ]
    try:
        return cls(**kwargs)
    except SpecError:
        raise
    except (TypeError, ValueError) as err:
        raise SpecError(f"{cls.__name__}: {err}", path=spec.path) from err


def _wants(hint: Any, predicate: Callable[[Any], bool]) -> bool:
    if hint is None:
        return False
    arms = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    return any(predicate(a) for a in arms)


def _materialize(value: Any, hint: Any, path: str) -> Any:
    if isinstance(value, str) and _wants(
        hint, lambda a: a is Callable or "Callable" in str(typing.get_origin(a) or a)
    ):
        return registry.get_function(value, path=path)
    if isinstance(value, Mapping) and _wants(
        hint, lambda a: isinstance(a, type) and issubclass(a, PipelineStep)
    ):
        return build_block(parse_block(value, path))
    return value


def build_pipeline(stage: StageSpec) -> list[PipelineStep]:
    return [build_block(b) for b in stage.pipeline]


# -- Python objects -> spec -------------------------------------------------------------
def _block_from_object(step: Any, path: str) -> dict[str, Any]:
    if isinstance(step, PipelineStep):
        block = type(step).__name__
        bpath = _join(path, block)  # the same path a YAML spec's error would name
        return {block: {k: to_jsonable(v, _join(bpath, k)) for k, v in step.spec_params.items()}}
    if isinstance(step, list) and all(isinstance(d, Document) for d in step):
        return {"Documents": {"documents": to_jsonable(step, path)}}
    if callable(step):
        name = registry.function_name(step)
        if name is None:
            raise SpecError(
                f"function {getattr(step, '__name__', step)!r} is not registered: decorate it with "
                "@register_function so workers can find it by name",
                path=path,
            )
        return {name: {}}
    raise SpecError(f"cannot use {step!r} as a pipeline step", path=path)


def to_jsonable(value: Any, path: str) -> Any:
    """Turn a block parameter into JSON (nested blocks, folders, registered functions)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Document):
        return {"text": value.text, "id": value.id, "metadata": value.metadata}
    if isinstance(value, PipelineStep):
        return _block_from_object(value, path)
    if isinstance(value, DataFolder):
        return value.to_spec()
    if isinstance(value, (list, tuple)):
        if (
            len(value) == 2
            and isinstance(value[0], str)
            and not isinstance(value[1], (str, int, float, dict, list, tuple, type(None)))
        ):
            raise SpecError(
                "a (path, filesystem object) folder cannot be sent to workers; pass (path, storage_options)",
                path=path,
            )
        return [to_jsonable(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _join(path, str(k))) for k, v in value.items()}
    if callable(value):
        name = registry.function_name(value)
        if name is None:
            raise SpecError(
                f"{getattr(value, '__name__', value)!r} is a Python callable; register it with "
                "@register_function so workers can find it by name",
                path=path,
            )
        return name
    raise SpecError(f"cannot serialize {type(value).__name__} {value!r}", path=path)
