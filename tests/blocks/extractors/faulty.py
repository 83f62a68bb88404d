"""A test-only extractor that misbehaves on purpose, to exercise the real sandbox.

It is a normal :class:`SandboxedExtractor` subclass: the sandbox child imports this
module and rebuilds the block exactly as it does for Trafilatura. The leading underscore
keeps it out of the block registry. A document starting with a marker makes the child:

    HANG   sleep far past any timeout          EXIT   os._exit(3)
    SEGV   read address 0 (segmentation fault) KILL   SIGKILL itself (as the OOM killer)
    HOG n  allocate n MiB (MemoryError under a smaller memory_limit_mb)
    RAISE  raise ValueError                     PRINT  print to stdout, then answer
    PID    answer with its process id           EMPTY  answer ""
    SLOW s sleep s seconds, then answer
Anything else is answered upper-cased.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from typing import Any

from blocks.extractors.base import SandboxedExtractor
from blocks.extractors.trafilatura import Trafilatura


class _FaultyExtractor(SandboxedExtractor):
    name = "FaultyExtractor"

    def __init__(
        self,
        timeout: float = 1.0,
        *,
        tag: Any = None,
        sandbox: bool = True,
        memory_limit_mb: int | None = None,
        startup_timeout: float = 60.0,
        start_delay: float = 0.0,
    ) -> None:
        if start_delay and os.environ.get("SHARDYARD_SANDBOX_PARENT"):
            time.sleep(start_delay)  # in the sandbox child only: a slow start (imports under load)
        super().__init__(
            timeout,
            sandbox=sandbox,
            memory_limit_mb=memory_limit_mb,
            startup_timeout=startup_timeout,
        )
        self.tag = tag

    def extract(self, text: str) -> str:
        if text.startswith("HANG"):
            time.sleep(600)
        elif text.startswith("EXIT"):
            os._exit(3)
        elif text.startswith("SEGV"):
            ctypes.string_at(0)
        elif text.startswith("KILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        elif text.startswith("HOG"):
            blob = bytearray(int(text.split()[1]) << 20)
            return str(len(blob))
        elif text.startswith("RAISE"):
            raise ValueError("unparseable page")
        elif text.startswith("PRINT"):
            print("noise on stdout " * 1000)
            sys.stdout.flush()
        elif text.startswith("PID"):
            return str(os.getpid())
        elif text.startswith("EMPTY"):
            return ""
        elif text.startswith("SLOW"):
            time.sleep(float(text.split()[1]))
        return text.upper()


class _HangingTrafilatura(Trafilatura):
    """The real Trafilatura block, except that a page containing ``<!--HANG-->`` hangs."""

    name = "HangingTrafilatura"

    def extract(self, text: str) -> str:
        if "<!--HANG-->" in text:
            time.sleep(600)
        return super().extract(text)
