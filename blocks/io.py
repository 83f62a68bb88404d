"""DataFolder: one folder on any fsspec filesystem (local, s3://, hf://, ...).

Paths handed to blocks may be a ``str``, ``(str, fsspec filesystem)``, ``(str, dict of
storage options)`` or a :class:`DataFolder`; :func:`get_datafolder` accepts all of them.
Listings are sorted so that every worker sees the same order, and carry sizes so the
planner can pack shards by bytes.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import secrets
from collections.abc import Iterator, Sequence
from typing import IO, Any

import fsspec
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from blocks.errors import SpecError, UnsafePathError

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".xz": "xz"}


def compression_of(path: str) -> str | None:
    """Compression codec implied by a file name, or None."""
    return COMPRESSIONS.get(posixpath.splitext(path)[1].lower())


_GLOB_MAGIC = re.compile(r"[*?\[]")
_TEMP_NAME = re.compile(r"^\..+\.tmp-[0-9a-f]{8}$")


def has_glob_magic(pattern: str) -> bool:
    """Whether ``pattern`` contains a wildcard (``*``, ``?`` or ``[...]``)."""
    return _GLOB_MAGIC.search(pattern) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob to a regex over "/"-separated relative paths.

    ``**/`` matches zero or more directories, ``**`` anything, ``*`` and ``?`` stay within
    one path component, ``[abc]`` / ``[!abc]`` are character classes.
    """
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2 :]:
            close = pattern.index("]", i + 2)
            body = pattern[i + 1 : close]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append(("[^/" if negate else "[") + body.replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class DataFolder:
    """A root path on an fsspec filesystem; every method takes paths relative to it."""

    def __init__(
        self,
        path: str,
        fs: AbstractFileSystem | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.storage_options = dict(storage_options or {})
        self._given_fs = fs is not None
        if fs is None:
            fs, root = fsspec.core.url_to_fs(path, **self.storage_options)
        else:
            root = fs._strip_protocol(path)
        if isinstance(fs, LocalFileSystem):
            root = os.path.abspath(root)
        self.fs: AbstractFileSystem = fs
        self.path: str = str(root).rstrip("/") or "/"
        self.url = path if "://" in path else self.path

    # -- identity -------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def to_spec(self) -> str | list[Any]:
        """JSON form that :func:`get_datafolder` rebuilds; fails for a live fs object."""
        if self._given_fs and not self.is_local:
            raise SpecError(
                "a DataFolder built from a filesystem object cannot be sent to workers; "
                "pass (path, storage_options) instead"
            )
        return [self.url, self.storage_options] if self.storage_options else self.url

    def __repr__(self) -> str:
        return f"DataFolder({self.url!r})"

    def resolve(self, relpath: str = "") -> str:
        """The full filesystem path of ``relpath``."""
        return posixpath.join(self.path, relpath) if relpath else self.path

    def full_url(self, relpath: str) -> str:
        """``relpath`` as an absolute local path or a ``protocol://`` URL (DataTrove's
        ``resolve_paths``); readers put it in ``metadata["file_path"]``."""
        full = self.resolve(relpath)
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return full if self.is_local else f"{protocol}://{full}"

    # -- listing --------------------------------------------------------------------
    def list_files_with_sizes(
        self,
        subdirectory: str = "",
        recursive: bool = True,
        glob_pattern: str | None = None,
    ) -> list[tuple[str, int]]:
        """Sorted ``(relative path, size)`` of the files under the folder.

        One listing call (``fs.find`` with details), so sizes cost nothing extra on object
        stores. ``glob_pattern`` is matched against the path relative to the folder (or to
        ``subdirectory``); a pattern without "/" is matched against the file name, at any
        depth when ``recursive`` (DataTrove only matches top-level names unless the pattern
        starts with ``**/``; we match deeper names too because a recursive listing that
        silently drops nested files is the more surprising behaviour). As in DataTrove, a
        pattern without any wildcard is a suffix: ``".jsonl.gz"`` means ``"*.jsonl.gz"``.
        Writers' in-flight temporary files (``.name.tmp-xxxxxxxx``) are never listed.
        """
        base = self.resolve(subdirectory)
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base, maxdepth=None if recursive else 1, withdirs=False, detail=True)
        if glob_pattern and not has_glob_magic(glob_pattern):
            glob_pattern = f"*{glob_pattern}"
        regex = _glob_regex(glob_pattern) if glob_pattern else None
        root = posixpath.join(self.path, subdirectory) if subdirectory else self.path
        out = []
        for full, info in found.items():
            if info.get("type") == "directory":
                continue
            stripped = self.fs._strip_protocol(full)
            rel = posixpath.relpath(stripped, self.path)
            name = posixpath.basename(rel)
            if _TEMP_NAME.match(name):
                continue  # a writer's in-flight temporary file
            if regex is not None:
                target = posixpath.relpath(stripped, root) if "/" in glob_pattern else name  # type: ignore[operator]
                if not regex.match(target):
                    continue
            out.append((rel, int(info.get("size") or 0)))
        out.sort()
        return out

    def list_files(
        self, subdirectory: str = "", recursive: bool = True, glob_pattern: str | None = None
    ) -> list[str]:
        return [p for p, _ in self.list_files_with_sizes(subdirectory, recursive, glob_pattern)]

    def get_shard(self, rank: int, world_size: int, **listing: Any) -> list[str]:
        """Files ``rank, rank + world_size, ...`` of the sorted listing (DataTrove's contract)."""
        return self.list_files(**listing)[rank::world_size]

    # -- files ----------------------------------------------------------------------
    def open(
        self, relpath: str, mode: str = "rb", compression: str | None = "infer", **kwargs: Any
    ) -> IO[Any]:
        """Open a file; compression is inferred from the extension unless given."""
        full = self.resolve(relpath)
        if compression == "infer":
            compression = compression_of(relpath)
        if "w" in mode or "a" in mode:
            parent = posixpath.dirname(full)
            if parent:
                self.fs.makedirs(parent, exist_ok=True)
        handle: IO[Any] = self.fs.open(full, mode, compression=compression, **kwargs)
        if compression and mode == "rb" and not isinstance(handle, io.BufferedIOBase):
            # zstandard's reader cannot be iterated by lines; a buffer over it can
            handle = io.BufferedReader(handle)  # type: ignore[type-var]
        return handle

    def exists(self, relpath: str = "") -> bool:
        return bool(self.fs.exists(self.resolve(relpath)))

    def size(self, relpath: str) -> int:
        return int(self.fs.size(self.resolve(relpath)))

    def rm(self, relpath: str) -> None:
        try:
            self.fs.rm(self.resolve(relpath))
        except FileNotFoundError:
            pass

    def move(self, src: str, dst: str) -> None:
        """Rename within the folder (atomic on local disks, copy + delete on object stores)."""
        self.fs.mv(self.resolve(src), self.resolve(dst))

    def remove_stale_temps(self, relpath: str) -> int:
        """Delete temporary files left beside ``relpath`` by attempts that were killed
        before they could commit or abort (a SIGKILLed worker). Returns how many."""
        head, tail = posixpath.split(relpath)
        try:
            names = [posixpath.basename(p) for p in self.fs.ls(self.resolve(head), detail=False)]
        except FileNotFoundError:
            return 0
        removed = 0
        for name in names:
            if is_temp_of(name, tail):
                self.rm(posixpath.join(head, name))
                removed += 1
        return removed

    def makedirs(self, relpath: str = "") -> None:
        self.fs.makedirs(self.resolve(relpath), exist_ok=True)

    def iter_lines(self, relpath: str) -> Iterator[str]:
        with self.open(relpath, "rt", encoding="utf-8") as fh:
            yield from fh


def get_datafolder(
    data: str | tuple[str, Any] | Sequence[Any] | DataFolder, **storage_options: Any
) -> DataFolder:
    """Accept every way a user names a folder."""
    if isinstance(data, DataFolder):
        return data
    if isinstance(data, str):
        return DataFolder(data, storage_options=storage_options or None)
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], str):
        path, second = data
        if isinstance(second, AbstractFileSystem):
            return DataFolder(path, fs=second)
        if isinstance(second, dict):
            return DataFolder(path, storage_options={**second, **storage_options})
    raise SpecError(
        f"cannot use {data!r} as a folder: give a path, (path, fsspec filesystem), "
        "(path, storage options dict) or a DataFolder"
    )


# -- safe output names ---------------------------------------------------------------
_TEMPLATE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def _sanitize_component(value: Any) -> str:
    text = str(value)
    if "\x00" in text:
        raise UnsafePathError(f"template value {text!r} contains a NUL byte")
    text = text.replace("/", "_").replace("\\", "_")
    if text in ("", ".", ".."):
        text = text.replace(".", "_") or "_"
    return text


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill ``${key}`` placeholders; the result is a relative path inside the folder.

    Each value becomes one path component ("/" and "\\" are replaced), and the rendered
    path is refused if it is absolute or leaves the folder.
    """

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise UnsafePathError(f"no value for ${{{key}}} in output name {template!r}")
        return _sanitize_component(values[key])

    rendered = _TEMPLATE.sub(fill, template)
    return safe_relpath(rendered)


def safe_relpath(path: str) -> str:
    """Normalize a relative output path, refusing absolute paths, NUL and escapes."""
    if "\x00" in path:
        raise UnsafePathError(f"output path {path!r} contains a NUL byte")
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path):
        raise UnsafePathError(f"output path {path!r} is absolute")
    norm = posixpath.normpath(path.replace("\\", "/"))
    if norm == ".." or norm.startswith("../") or norm in ("", "."):
        raise UnsafePathError(f"output path {path!r} leaves the output folder")
    return norm


_TEMP_SUFFIX = re.compile(r"\.tmp-[0-9a-f]{8}\Z")


def is_temp_of(name: str, final_name: str) -> bool:
    """Whether ``name`` is a temporary name made by :func:`temp_name` for ``final_name``."""
    prefix = f".{final_name}"
    return name.startswith(prefix) and bool(_TEMP_SUFFIX.fullmatch(name[len(prefix) :]))


def temp_name(relpath: str) -> str:
    """A hidden temporary name beside ``relpath``, unique per call."""
    head, tail = posixpath.split(relpath)
    return posixpath.join(head, f".{tail}.tmp-{secrets.token_hex(4)}")


def template_fields(template: str) -> list[str]:
    return _TEMPLATE.findall(template)


__all__ = [
    "DataFolder",
    "compression_of",
    "get_datafolder",
    "render_template",
    "safe_relpath",
    "temp_name",
    "template_fields",
]
