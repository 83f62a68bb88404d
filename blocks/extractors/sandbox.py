"""Run an extractor in a long-lived child process so one bad page costs one document.

HTML extraction (trafilatura on lxml, resiliparse in C++) can hang for minutes or crash
the interpreter on hostile pages. The parent cannot interrupt C code in its own process,
so :class:`ExtractorSandbox` runs the extractor in a child and, per document, either
reads the result or kills the child (timeout, crash, out-of-memory) and starts a new one
for the next document.

The child is a fresh interpreter (``subprocess`` = fork+exec, safe in a threaded parent),
never a bare fork. Nothing is pickled: both sides speak length-prefixed frames over
pipes, ``kind (1 byte) | length (8 bytes, big endian) | payload``:

    parent -> child   I  init: JSON {"module", "qualname", "params", "memory_limit_mb"}
                      D  document: UTF-8 text (surrogatepass)
    child -> parent   K  ready (after the warm-up call)
                      F  init failed: JSON {"error"}
                      R  result: 16 bytes (start, end: child monotonic clock) + UTF-8 text
                      N  result was empty / None: 16 bytes of times
                      E  extract raised: 16 bytes of times + JSON {"error"}

The child rebuilds the block from its class and constructor parameters (as a worker
rebuilds blocks from a spec) and calls its ``extract``. Up to ``max_in_flight`` documents
are written ahead, so the child extracts the next page while the parent runs the rest of
the pipeline; the child works strictly in order, so a timeout or crash is always charged
to the oldest outstanding document and the ones behind it are re-sent to the new child.
A document's deadline runs from the moment the child can start it: the later of the
previous document's end (reported by the child; CLOCK_MONOTONIC is system-wide on Linux)
and the moment its last byte was written.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import struct
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from blocks.errors import ShardyardError

HEADER = struct.Struct(">BQ")
TIMES = struct.Struct(">dd")
CHILD_MODULE = "blocks.extractors._child"
# Exit status the child uses when the extractor ran out of memory under its rlimit.
EXIT_MEMORY = 86
PIPE_BYTES = 1 << 20


class SandboxError(ShardyardError):
    """The sandbox child could not be started: the shard fails, not a document."""


def encode_frame(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind[0], len(payload)) + payload


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def decode_text(data: bytes | memoryview) -> str:
    return bytes(data).decode("utf-8", "surrogatepass")


def _grow_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer (Linux): a page then crosses in one or two wake-ups
    instead of one per 64 KiB, which triples the throughput for typical pages."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", 1031 if sys.platform.startswith("linux") else None)
    if set_size is None:
        return
    try:
        fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: keep the default


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one document: ``ok`` (text may be empty), ``error``, ``timeout``, ``broken``."""

    kind: Literal["ok", "error", "timeout", "broken"]
    text: str = ""
    error: str = ""
    seconds: float | None = None


@dataclass(slots=True)
class _Request:
    payload: bytes
    written: int = 0  # bytes of payload already in the pipe (for the current child)
    done_at: float | None = None  # parent monotonic time the last byte was written


class ExtractorSandbox:
    """One child process running ``qualname`` from ``module`` built with ``params``.

    Use ``submit(text)`` for each document, then ``next_outcome()`` for each, in order.
    The child starts lazily and again after a timeout or a crash; ``close()`` ends it.
    """

    def __init__(
        self,
        module: str,
        qualname: str,
        params: dict[str, Any],
        *,
        timeout: float,
        startup_timeout: float = 60.0,
        memory_limit_mb: int | None = None,
        max_in_flight: int = 2,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        try:
            init = json.dumps(
                {
                    "module": module,
                    "qualname": qualname,
                    "params": params,
                    "memory_limit_mb": memory_limit_mb,
                }
            )
        except (TypeError, ValueError) as err:
            raise SandboxError(
                f"{qualname}'s parameters must be JSON values to rebuild it in the sandbox: {err}"
            ) from err
        self._init_frame = encode_frame(b"I", init.encode())
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.max_in_flight = max(1, max_in_flight)
        self.starts = 0  # children started so far (1 + restarts)
        self._proc: subprocess.Popen[bytes] | None = None
        self._wfd = -1
        self._rfd = -1
        self._queue: deque[_Request] = deque()
        self._rbuf = bytearray()
        self._last_end = 0.0  # child-reported end time of the last answered document
        self._last_progress = 0.0  # parent time of the last byte written to the child

    # -- public -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, text: str) -> None:
        """Queue a document; it is written to the child as soon as the window allows."""
        self._queue.append(_Request(encode_frame(b"D", encode_text(text))))
        if self._proc is not None:
            self._pump_writes()

    def next_outcome(self) -> Outcome:
        """Wait for the oldest submitted document and return what became of it."""
        if not self._queue:
            raise RuntimeError("next_outcome() without a submitted document")
        if self._proc is None:
            self._start()
        with selectors.DefaultSelector() as sel:
            while True:
                # Read what the child already wrote before looking at the clock: the parent
                # may come back late (the rest of the pipeline ran) to a finished answer.
                open_pipe = self._drain()
                frame = self._take_frame()
                if frame is not None:
                    return self._answer(*frame)
                if not open_pipe:
                    return self._fail("broken")
                head = self._queue[0]
                # The child starts the head once it finished the previous document and has
                # read the head's last byte; until then, time runs from the last progress.
                ready = head.done_at if head.done_at is not None else self._last_progress
                deadline = max(ready, self._last_end) + self.timeout
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return self._fail("timeout")
                writing = self._window_has_unwritten()
                sel.register(self._rfd, selectors.EVENT_READ)
                if writing:
                    sel.register(self._wfd, selectors.EVENT_WRITE)
                events = sel.select(min(wait, 1.0))
                sel.unregister(self._rfd)
                if writing:
                    sel.unregister(self._wfd)
                if writing and any(key.fd == self._wfd for key, _ in events):
                    self._pump_writes()
                if not events and self._proc is not None and self._proc.poll() is not None:
                    # Exited, yet no end of file (a grandchild holds the pipe): take what
                    # is there, then give up on the document.
                    self._drain()
                    frame = self._take_frame()
                    return self._answer(*frame) if frame is not None else self._fail("broken")

    def _fail(self, kind: Literal["timeout", "broken"]) -> Outcome:
        """Kill the child and charge the oldest document; the others go to the next child."""
        self._kill()
        self._queue.popleft()
        return Outcome(kind, seconds=self.timeout if kind == "timeout" else None)

    def close(self) -> None:
        """End the child (if any) and forget queued documents."""
        self._kill()
        self._queue.clear()

    def __enter__(self) -> ExtractorSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- process ----------------------------------------------------------------------
    def _start(self) -> None:
        env = dict(os.environ)
        # The child must import what the parent can (tests, plugins, editable installs).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env["SHARDYARD_SANDBOX_PARENT"] = str(os.getpid())
        proc = subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        self._wfd = proc.stdin.fileno()
        self._rfd = proc.stdout.fileno()
        os.set_blocking(self._wfd, False)
        os.set_blocking(self._rfd, False)
        for fd in (self._wfd, self._rfd):
            _grow_pipe(fd)
        self._rbuf.clear()
        self._last_end = 0.0
        self._last_progress = time.monotonic()
        for req in self._queue:
            req.written, req.done_at = 0, None
        self.starts += 1
        self._handshake()

    def _handshake(self) -> None:
        buf = memoryview(self._init_frame)
        deadline = time.monotonic() + self.startup_timeout
        with selectors.DefaultSelector() as sel:
            while True:
                frame = self._take_frame()
                if frame is not None:
                    kind, payload = frame
                    if kind == ord("K"):
                        self._pump_writes()
                        return
                    message = (
                        json.loads(bytes(payload)).get("error", "") if kind == ord("F") else ""
                    )
                    self._kill()
                    raise SandboxError(f"extractor sandbox failed to start: {message or kind}")
                wait = deadline - time.monotonic()
                if wait <= 0:
                    self._kill()
                    raise SandboxError(
                        f"extractor sandbox not ready within {self.startup_timeout} s"
                    )
                sel.register(self._rfd, selectors.EVENT_READ)
                if buf:
                    sel.register(self._wfd, selectors.EVENT_WRITE)
                events = sel.select(min(wait, 1.0))
                sel.unregister(self._rfd)
                if buf:
                    sel.unregister(self._wfd)
                for key, _ in events:
                    if key.fd == self._wfd:
                        buf = buf[self._write(buf) :]
                    elif not self._read_some():
                        code = self._proc.wait() if self._proc is not None else None
                        self._kill()
                        raise SandboxError(f"extractor sandbox exited during start (status {code})")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._wfd = self._rfd = -1

    # -- pipes ------------------------------------------------------------------------
    def _write(self, data: memoryview | bytes) -> int:
        try:
            n = os.write(self._wfd, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except BrokenPipeError:
            return 0  # the child died; the read side reports it and charges the document
        if n:
            self._last_progress = time.monotonic()
        return n

    def _window_has_unwritten(self) -> bool:
        for i, req in enumerate(self._queue):
            if i >= self.max_in_flight:
                return False
            if req.done_at is None:
                return True
        return False

    def _pump_writes(self) -> None:
        """Write as much of the requests inside the window as the pipe takes, without blocking."""
        for i, req in enumerate(self._queue):
            if i >= self.max_in_flight:
                return
            if req.done_at is not None:
                continue
            n = self._write(memoryview(req.payload)[req.written :])
            req.written += n
            if req.written < len(req.payload):
                return
            req.done_at = time.monotonic()

    def _read_some(self) -> bool:
        """Read what is available; False on end of file (the child is gone)."""
        try:
            chunk = os.read(self._rfd, 1 << 20)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not chunk:
            return False
        self._rbuf += chunk
        return True

    def _drain(self) -> bool:
        """Read everything available without blocking; False once the pipe hit end of file."""
        while self._rfd >= 0:
            before = len(self._rbuf)
            if not self._read_some():
                return False
            if len(self._rbuf) == before:
                return True
        return False

    def _frame_ready(self) -> bool:
        if len(self._rbuf) < HEADER.size:
            return False
        _, length = HEADER.unpack_from(self._rbuf)
        return len(self._rbuf) >= HEADER.size + length

    def _take_frame(self) -> tuple[int, memoryview] | None:
        if not self._frame_ready():
            return None
        kind, length = HEADER.unpack_from(self._rbuf)
        end = HEADER.size + length
        payload = memoryview(bytes(self._rbuf[HEADER.size : end]))
        del self._rbuf[:end]
        return kind, payload

    def _answer(self, kind: int, payload: memoryview) -> Outcome:
        self._queue.popleft()
        start, end = TIMES.unpack_from(payload)
        self._last_end = end
        seconds = max(0.0, end - start)
        body = payload[TIMES.size :]
        if seconds > self.timeout:
            # Finished, but over time while the parent was not watching: the same verdict
            # and the same fresh child as when the parent kills it on the spot, so results
            # never depend on how busy the parent was.
            self._kill()
            return Outcome("timeout", seconds=seconds)
        self._pump_writes()
        if kind == ord("R"):
            return Outcome("ok", decode_text(body), seconds=seconds)
        if kind == ord("N"):
            return Outcome("ok", "", seconds=seconds)
        if kind == ord("E"):
            return Outcome("error", error=json.loads(bytes(body)).get("error", ""), seconds=seconds)
        raise SandboxError(f"unexpected frame {chr(kind)!r} from the extractor sandbox")
