"""The child side of the extractor sandbox: ``python -m blocks.extractors._child``.

Started by :class:`blocks.extractors.sandbox.ExtractorSandbox`; reads frames on stdin and
writes frames on stdout (see that module for the protocol). It rebuilds the extractor
block from its class and JSON parameters, warms it up, then extracts one document at a
time until its stdin closes. Anything the extractor prints goes to stderr so that it can
never corrupt the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

from blocks.extractors.sandbox import (
    EXIT_MEMORY,
    HEADER,
    TIMES,
    decode_text,
    encode_frame,
    encode_text,
)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> tuple[int, bytes] | None:
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    payload = _read_exact(fd, length) if length else b""
    return None if payload is None else (kind, payload)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _harden(memory_limit_mb: int | None) -> None:
    """Die with the parent, be the OOM killer's first pick, honour the memory limit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
        try:
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write("1000\n")
        except OSError:
            pass
    parent = os.environ.get("SHARDYARD_SANDBOX_PARENT")
    if parent and os.getppid() != int(parent):
        os._exit(1)  # the parent died before the death signal was armed
    if memory_limit_mb:
        import resource

        limit = int(memory_limit_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _build(spec: dict[str, Any]) -> Any:
    from blocks.extractors.base import SandboxedExtractor

    target: Any = importlib.import_module(spec["module"])
    for part in str(spec["qualname"]).split("."):
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, SandboxedExtractor)):
        raise TypeError(f"{spec['qualname']} is not a SandboxedExtractor")
    extractor = target(**spec["params"])
    try:
        extractor.extract(extractor.warmup_text)  # pay lazy imports before the first deadline
    except Exception:
        pass
    return extractor


def main() -> int:
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    frame = _read_frame(proto_in)
    if frame is None or frame[0] != ord("I"):
        return 1
    try:
        spec = json.loads(frame[1])
        _harden(spec.get("memory_limit_mb"))
        extractor = _build(spec)
    except BaseException as err:
        message = "".join(traceback.format_exception_only(type(err), err)).strip()
        _write_all(proto_out, encode_frame(b"F", json.dumps({"error": message}).encode()))
        return 1
    _write_all(proto_out, encode_frame(b"K"))
    while True:
        frame = _read_frame(proto_in)
        if frame is None:
            return 0
        kind, payload = frame
        if kind != ord("D"):
            return 1
        start = time.monotonic()
        try:
            result = extractor.extract(decode_text(payload))
            if result is not None and not isinstance(result, str):
                raise TypeError(f"extract() returned {type(result).__name__}, not str")
        except MemoryError:
            os._exit(EXIT_MEMORY)  # state after a failed allocation is not trustworthy
        except Exception as err:
            times = TIMES.pack(start, time.monotonic())
            error = json.dumps({"error": f"{type(err).__name__}: {err}"}).encode()
            _write_all(proto_out, encode_frame(b"E", times + error))
            continue
        times = TIMES.pack(start, time.monotonic())
        if result:
            _write_all(proto_out, encode_frame(b"R", times + encode_text(result)))
        else:
            _write_all(proto_out, encode_frame(b"N", times))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        os._exit(0)  # the parent went away
