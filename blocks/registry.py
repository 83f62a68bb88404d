"""Block and function registry: the only way a spec or a message names code.

Blocks are found by class name among the subclasses of :class:`PipelineStep` defined in
the built-in block packages and in plugin modules (``SHARDYARD_PLUGINS``, imported by the
entry points). Plain functions (pipeline steps, ``LambdaFilter`` predicates, adapters) are
registered explicitly with :func:`register_function`. Nothing is ever imported by a path
taken from a message.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from blocks.base import DocumentsSource, FunctionStep, PipelineStep
from blocks.errors import SpecError

BUILTIN_PACKAGES = (
    "blocks.readers",
    "blocks.extractors",
    "blocks.filters",
    "blocks.formatters",
    "blocks.stats",
    "blocks.tokens",
    "blocks.dedup",
    "blocks.writers",
)

_FUNCTIONS: dict[str, Callable[..., Any]] = {}
_loaded = False
F = TypeVar("F", bound=Callable[..., Any])


def load_plugins(modules: Iterable[str]) -> None:
    """Import plugin modules so their blocks and functions register."""
    for module in modules:
        module = module.strip()
        if not module:
            continue
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise SpecError(f"cannot import plugin module {module!r}: {err}") from err


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for package in BUILTIN_PACKAGES:
            importlib.import_module(package)
        _loaded = True


def _all_subclasses(cls: type) -> Iterable[type]:
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        yield sub
        yield from _all_subclasses(sub)


def blocks() -> dict[str, type[PipelineStep]]:
    """All concrete blocks by class name."""
    _load_builtins()
    out: dict[str, type[PipelineStep]] = {}
    for cls in _all_subclasses(PipelineStep):
        if inspect.isabstract(cls) or cls.__name__.startswith("_") or cls in (FunctionStep,):
            continue
        prior = out.get(cls.__name__)
        if prior is not None and prior is not cls and prior.__qualname__ != cls.__qualname__:
            raise SpecError(
                f"two blocks are named {cls.__name__!r}: {prior.__module__} and {cls.__module__}"
            )
        out[cls.__name__] = cls
    out["Documents"] = DocumentsSource
    return out


def get_block(name: str, *, path: str = "") -> type[PipelineStep]:
    """The block class registered under ``name``, or a SpecError with a "did you mean"."""
    known = blocks()
    if name in known:
        return known[name]
    if name in _FUNCTIONS:
        return FunctionStep
    candidates = list(known) + list(_FUNCTIONS)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise SpecError(f"unknown block {name!r}{hint}", path=path)


def register_function(name: str | None = None) -> Callable[[F], F]:
    """Register a plain function under ``name`` (default: its ``__name__``).

    ``@register_function()`` on ``def my_step(data, rank=0, world_size=1)`` makes
    ``- my_step: {}`` usable in a spec; a predicate can then be given to
    ``LambdaFilter: {filter_function: my_pred}``.
    """

    def deco(fn: F) -> F:
        key = name or fn.__name__
        prior = _FUNCTIONS.get(key)
        if prior is not None and prior is not fn and prior.__qualname__ != fn.__qualname__:
            raise SpecError(f"function name {key!r} is already registered by {prior.__module__}")
        _FUNCTIONS[key] = fn
        fn.__shardyard_name__ = key  # type: ignore[attr-defined]
        return fn

    return deco


def get_function(name: str, *, path: str = "") -> Callable[..., Any]:
    if name in _FUNCTIONS:
        return _FUNCTIONS[name]
    close = difflib.get_close_matches(name, list(_FUNCTIONS), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise SpecError(
        f"unknown function {name!r}: register it with @register_function in a plugin module{hint}",
        path=path,
    )


def function_name(fn: Callable[..., Any]) -> str | None:
    """The registered name of ``fn``, or None if it was never registered."""
    key = getattr(fn, "__shardyard_name__", None)
    return key if key is not None and _FUNCTIONS.get(key) is fn else None
