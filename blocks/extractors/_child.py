"""The child side of the extractor sandbox: ``python -m blocks.extractors._child``.

Started by :class:`blocks.extractors.sandbox.ExtractorSandbox`; reads frames on stdin and
writes frames on stdout (see :mod:`blocks.extractors.protocol`). It rebuilds the
extractor block from its class and JSON parameters, warms it up, then extracts one
document at a time until its stdin closes. Anything the extractor prints goes to stderr
so that it can never corrupt the protocol.
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

from blocks.extractors import protocol as wire


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


def _serve(extractor: Any, fd_in: int, fd_out: int) -> int:
    while True:
        frame = wire.read_frame(fd_in)
        if frame is None:
            return 0
        kind, payload = frame
        if kind != wire.DOC:
            return 1
        start = time.monotonic()
        try:
            result = extractor.extract(wire.decode_text(payload))
            if result is not None and not isinstance(result, str):
                raise TypeError(f"extract() returned {type(result).__name__}, not str")
        except MemoryError:
            os._exit(wire.EXIT_MEMORY)  # state after a failed allocation is not trustworthy
        except Exception as err:
            times = wire.TIMES.pack(start, time.monotonic())
            error = json.dumps({"error": f"{type(err).__name__}: {err}"}).encode()
            wire.write_all(fd_out, wire.encode_frame(wire.ERROR, times + error))
            continue
        times = wire.TIMES.pack(start, time.monotonic())
        if result:
            wire.write_all(fd_out, wire.encode_frame(wire.RESULT, times + wire.encode_text(result)))
        else:
            wire.write_all(fd_out, wire.encode_frame(wire.EMPTY, times))


def main() -> int:
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    frame = wire.read_frame(fd_in)
    if frame is None or frame[0] != wire.INIT:
        return 1
    try:
        spec = json.loads(frame[1])
        _harden(spec.get("memory_limit_mb"))
        extractor = _build(spec)
    except BaseException as err:
        message = "".join(traceback.format_exception_only(type(err), err)).strip()
        wire.write_all(
            fd_out, wire.encode_frame(wire.FAILED, json.dumps({"error": message}).encode())
        )
        return 1
    wire.write_all(fd_out, wire.encode_frame(wire.READY))
    return _serve(extractor, fd_in, fd_out)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        os._exit(0)  # the parent went away
