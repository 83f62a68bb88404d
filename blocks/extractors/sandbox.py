"""Run an extractor in a long-lived child process so one bad page costs one document.

HTML extraction (trafilatura on lxml, resiliparse in C++) can hang for minutes or crash
the interpreter on hostile pages. The parent cannot interrupt C code in its own process,
so :class:`ExtractorSandbox` runs the extractor in a child and, per document, either
reads the result or kills the child (timeout, crash, out-of-memory) and starts a new one
for the next document.

The child is a fresh interpreter (``subprocess``: fork+exec, safe in a threaded parent
and allowed inside Celery's daemonic pool processes, where ``multiprocessing`` children
are not). Nothing is pickled: both sides speak the length-prefixed frames of
:mod:`blocks.extractors.protocol`, and the child rebuilds the block from its class and
JSON constructor parameters, as a worker rebuilds blocks from a spec.

Up to ``max_in_flight`` documents are written ahead, so the child extracts the next page
while the parent runs the rest of the pipeline. The child works strictly in order, so a
timeout or crash is always charged to the oldest outstanding document and the ones
behind it are re-sent to the new child. A document's deadline runs from the moment the
child can start it: the later of the previous document's end (reported by the child;
CLOCK_MONOTONIC is system-wide) and the moment its last byte was written.
"""

from __future__ import annotations

import fcntl
import json
import os
import selectors
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from blocks.errors import ShardyardError
from blocks.extractors import protocol as wire

CHILD_MODULE = "blocks.extractors._child"
PIPE_BYTES = 1 << 20
# DataTrove's sandbox polls until 0.1 s past the deadline and takes an answer that
# arrived by then; the same slack keeps the same documents on the same machine.
GRACE = 0.1


class SandboxError(ShardyardError):
    """The sandbox child could not be started: the shard fails, not a document."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one document: ``ok`` (text may be empty), ``error``, ``timeout``, ``broken``."""

    kind: Literal["ok", "error", "timeout", "broken"]
    text: str = ""
    error: str = ""
    seconds: float | None = None  # extraction time measured in the child


@dataclass(slots=True)
class _Request:
    payload: bytes
    written: int = 0  # bytes of the frame already in the pipe (for the current child)
    done_at: float | None = None  # parent monotonic time the last byte was written


def _grow_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer (Linux) so a typical page crosses in one write."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", 1031 if sys.platform.startswith("linux") else None)
    if set_size is None:
        return
    try:
        fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: keep the default


class ExtractorSandbox:
    """One child process running ``qualname`` from ``module`` built with ``params``.

    ``submit(text)`` each document, then ``next_outcome()`` for each, in the same order.
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
        init = {"module": module, "qualname": qualname, "params": params}
        try:
            raw = json.dumps({**init, "memory_limit_mb": memory_limit_mb})
        except (TypeError, ValueError) as err:
            raise SandboxError(
                f"{qualname}'s parameters must be JSON values to rebuild it in the sandbox: {err}"
            ) from err
        self._init_frame = wire.encode_frame(wire.INIT, raw.encode())
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.max_in_flight = max(1, max_in_flight)
        self.starts = 0  # children started so far (1 + restarts)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sel: selectors.BaseSelector | None = None
        self._wfd = self._rfd = -1
        self._watching_write = False
        self._queue: deque[_Request] = deque()
        self._rbuf = bytearray()
        self._last_end = 0.0  # child-reported end time of the last answered document
        self._last_progress = 0.0  # parent time of the last byte written to the child
        self._ready = False  # the current child answered READY

    # -- public -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, text: str) -> None:
        """Queue a document; it is written to the child as soon as the window allows."""
        self._queue.append(_Request(wire.encode_frame(wire.DOC, wire.encode_text(text))))
        if self._proc is not None:
            self._pump_writes()

    def next_outcome(self) -> Outcome:
        """Wait for the oldest submitted document and return what became of it."""
        if not self._queue:
            raise RuntimeError("next_outcome() without a submitted document")
        if self._proc is None:
            self._start()
        while True:
            # Read what the child already wrote before looking at the clock: the parent
            # may come back late (the rest of the pipeline ran) to a finished answer.
            open_pipe = self._drain()
            frame = wire.split_frame(self._rbuf)
            if frame is not None:
                return self._answer(*frame)
            if not open_pipe:
                return self._fail("broken")
            head = self._queue[0]
            # The child starts the head once it finished the previous document and has
            # read the head's last byte; until then, time runs from the last progress.
            ready = head.done_at if head.done_at is not None else self._last_progress
            wait = max(ready, self._last_end) + self.timeout + GRACE - time.monotonic()
            if wait <= 0:
                return self._fail("timeout")
            if not self._wait(wait) and self._proc is not None and self._proc.poll() is not None:
                # Exited without end of file (a grandchild holds the pipe): take what is there.
                self._drain()
                frame = wire.split_frame(self._rbuf)
                return self._answer(*frame) if frame is not None else self._fail("broken")

    def close(self) -> None:
        """End the child (if any) and forget queued documents."""
        self._kill()
        self._queue.clear()

    def __enter__(self) -> ExtractorSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- outcomes ---------------------------------------------------------------------
    def _answer(self, kind: int, payload: bytes) -> Outcome:
        self._queue.popleft()
        start, end = wire.TIMES.unpack_from(payload)
        self._last_end = end
        seconds = max(0.0, end - start)
        body = memoryview(payload)[wire.TIMES.size :]
        if seconds > self.timeout + GRACE:
            # Finished, but over time while the parent was not watching: the same verdict
            # and the same fresh child as when the parent kills it on the spot, so results
            # never depend on how busy the parent was.
            self._kill()
            return Outcome("timeout", seconds=seconds)
        self._pump_writes()
        if kind == wire.RESULT:
            return Outcome("ok", wire.decode_text(body), seconds=seconds)
        if kind == wire.EMPTY:
            return Outcome("ok", "", seconds=seconds)
        if kind == wire.ERROR:
            return Outcome("error", error=json.loads(bytes(body)).get("error", ""), seconds=seconds)
        raise SandboxError(f"unexpected frame {chr(kind)!r} from the extractor sandbox")

    def _fail(self, kind: Literal["timeout", "broken"]) -> Outcome:
        """Kill the child and charge the oldest document; the others go to the next child."""
        self._kill()
        self._queue.popleft()
        return Outcome(kind, seconds=self.timeout if kind == "timeout" else None)

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
        self._proc, self._wfd, self._rfd = proc, proc.stdin.fileno(), proc.stdout.fileno()
        for fd in (self._wfd, self._rfd):
            _grow_pipe(fd)
        # The child is blocked reading this first frame: a blocking write cannot deadlock.
        wire.write_all(self._wfd, self._init_frame)
        os.set_blocking(self._wfd, False)
        os.set_blocking(self._rfd, False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._rfd, selectors.EVENT_READ)
        self._watching_write = False
        self._rbuf.clear()
        self._last_end, self._last_progress = 0.0, time.monotonic()
        for req in self._queue:
            req.written, req.done_at = 0, None
        self.starts += 1
        # No document is written before the child says READY: a document's deadline runs
        # from its last byte written, and a slow start (imports under load) must not eat it.
        self._ready = False
        self._handshake()

    def _handshake(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            open_pipe = self._drain()
            frame = wire.split_frame(self._rbuf)
            if frame is not None:
                kind, payload = frame
                if kind == wire.READY:
                    self._ready = True
                    self._last_progress = time.monotonic()
                    self._pump_writes()
                    return
                message = json.loads(payload).get("error", "") if kind == wire.FAILED else ""
                self._kill()
                raise SandboxError(f"extractor sandbox failed to start: {message or chr(kind)}")
            if not open_pipe:
                code = self._proc.wait() if self._proc is not None else None
                self._kill()
                raise SandboxError(f"extractor sandbox exited during start (status {code})")
            wait = deadline - time.monotonic()
            if wait <= 0:
                self._kill()
                raise SandboxError(f"extractor sandbox not ready within {self.startup_timeout} s")
            self._wait(wait)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._wfd = self._rfd = -1

    # -- pipes ------------------------------------------------------------------------
    def _wait(self, seconds: float) -> bool:
        """Sleep until the child wrote, or the pipe takes the bytes we owe it; False on timeout."""
        assert self._sel is not None
        want_write = self._ready and any(req.done_at is None for req in self._window())
        if want_write != self._watching_write:
            if want_write:
                self._sel.register(self._wfd, selectors.EVENT_WRITE)
            else:
                self._sel.unregister(self._wfd)
            self._watching_write = want_write
        events = self._sel.select(min(seconds, 1.0))
        if want_write and any(key.fd == self._wfd for key, _ in events):
            self._pump_writes()
        return bool(events)

    def _window(self) -> list[_Request]:
        return [req for _, req in zip(range(self.max_in_flight), self._queue, strict=False)]

    def _pump_writes(self) -> None:
        """Write as much of the requests inside the window as the pipe takes, without blocking."""
        if not self._ready:
            return
        for req in self._window():
            if req.done_at is not None:
                continue
            try:
                n = os.write(self._wfd, memoryview(req.payload)[req.written :])
            except (BlockingIOError, InterruptedError):
                return
            except BrokenPipeError:
                return  # the child died; the read side reports it and charges the document
            if n:
                self._last_progress = time.monotonic()
            req.written += n
            if req.written < len(req.payload):
                return
            req.done_at = time.monotonic()

    def _drain(self) -> bool:
        """Read everything available without blocking; False once the pipe hit end of file."""
        while self._rfd >= 0:
            try:
                chunk = os.read(self._rfd, 1 << 20)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self._rbuf += chunk
        return False
