"""The extractor sandbox: real child processes that hang, crash and run out of memory."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import cast

import pytest

from blocks.document import Document
from blocks.extractors import ExtractorSandbox, SandboxedExtractor, SandboxError
from tests.blocks.extractors.faulty import _FaultyExtractor


def docs(*texts: str) -> list[Document]:
    return [Document(text, f"d{i}") for i, text in enumerate(texts)]


def counts(block: SandboxedExtractor) -> dict[str, int]:
    return {name: stat.n for name, stat in block.stats.stats.items() if name != "doc_len"}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_extracts_in_order_in_one_child() -> None:
    block = _FaultyExtractor()
    out = list(block.run(docs("a", "PID", "b", "EMPTY", "PID", "c")))
    texts = [d.text for d in out]
    assert texts[0] == "A" and texts[2] == "B" and texts[4] == "C"
    assert texts[1] == texts[3] and int(texts[1]) != os.getpid()  # same child, not us
    assert [d.id for d in out] == ["d0", "d1", "d2", "d4", "d5"]
    assert counts(block) == {"total": 6, "extracted": 6, "forwarded": 5, "dropped": 1}
    assert block.sandbox_starts == 1
    assert not alive(int(texts[1]))  # the child ends with the shard
    assert block.stats.time.n == 6  # time measured in the child, per document


def test_a_slow_child_start_does_not_eat_the_first_documents_time() -> None:
    # documents queued while the child still starts must get their full timeout once it is
    # ready; their deadline used to run from the write, before the child could read it
    # (after a hang the restarted child starts slowly with documents already queued)
    block = _FaultyExtractor(timeout=0.6, start_delay=1.5)
    out = list(block.run(docs("HANG", "SLOW 0.3", "b", "c")))
    assert [d.text for d in out] == ["SLOW 0.3", "B", "C"]
    assert counts(block) == {"total": 4, "extracted": 3, "forwarded": 3, "timeout": 1}
    assert block.sandbox_starts == 2


@pytest.mark.parametrize("marker", ["HANG", "EXIT", "SEGV", "KILL"])
def test_failure_costs_one_document_and_restarts_the_child(marker: str) -> None:
    block = _FaultyExtractor(timeout=0.5)
    out = list(block.run(docs("PID", "a", marker, "b", "PID", "c")))
    assert [d.id for d in out] == ["d0", "d1", "d3", "d4", "d5"]
    assert [d.text for d in out][1:3] == ["A", "B"]
    first, second = int(out[0].text), int(out[3].text)
    assert first != second and not alive(first)
    expected = "timeout" if marker == "HANG" else "broken_process"
    assert counts(block) == {"total": 6, "extracted": 5, "forwarded": 5, expected: 1}
    assert block.sandbox_starts == 2


def test_memory_limit_turns_an_allocation_into_a_broken_process() -> None:
    # the child itself needs ~20 MiB of address space; the page asks for 128 MiB more
    block = _FaultyExtractor(memory_limit_mb=64)
    out = list(block.run(docs("a", "HOG 128", "b")))
    assert [d.text for d in out] == ["A", "B"]
    assert counts(block)["broken_process"] == 1
    # without the limit the same document is extracted (the machine has the memory)
    unlimited = _FaultyExtractor(timeout=30)
    assert [d.text for d in unlimited.run(docs("HOG 128"))] == [str(128 << 20)]


def test_extract_errors_are_counted_and_the_child_is_kept() -> None:
    block = _FaultyExtractor()
    out = list(block.run(docs("PID", "RAISE", "RAISE", "PID")))
    assert out[0].text == out[1].text  # no restart after an exception
    assert counts(block) == {"total": 4, "extracted": 2, "forwarded": 2, "clean_error": 2}


def test_consecutive_failures_and_failures_at_the_edges() -> None:
    block = _FaultyExtractor(timeout=0.4)
    out = list(block.run(docs("HANG", "EXIT", "a", "SEGV", "HANG")))
    assert [d.text for d in out] == ["A"]
    c = counts(block)
    assert (c["timeout"], c["broken_process"], c["extracted"]) == (2, 2, 1)
    assert block.sandbox_starts == 4  # the last failure needs no new child


def test_stdout_noise_never_corrupts_the_protocol() -> None:
    block = _FaultyExtractor()
    assert [d.text for d in block.run(docs("PRINT me", "x"))] == ["PRINT ME", "X"]


def test_large_and_odd_unicode_documents_round_trip() -> None:
    big = "é😀\u4e2d" * 700_000 + "\ud800"  # ~ 9 MB of UTF-8, larger than any pipe buffer
    block = _FaultyExtractor(timeout=30)
    out = list(block.run(docs(big, "tail")))
    assert out[0].text == big.upper() and out[1].text == "TAIL"


def test_closing_the_stream_early_ends_the_child() -> None:
    block = _FaultyExtractor()
    stream = cast(Generator[Document, None, None], block.run(iter(docs("PID", "a", "b", "c"))))
    pid = int(next(stream).text)
    assert alive(pid)
    stream.close()
    assert not alive(pid)


def test_in_process_mode_runs_extract_here() -> None:
    block = _FaultyExtractor(sandbox=False)
    out = list(block.run(docs("PID", "RAISE", "EMPTY", "z")))
    assert [d.text for d in out] == [str(os.getpid()), "Z"]
    assert counts(block) == {
        "total": 4,
        "extracted": 3,
        "forwarded": 2,
        "dropped": 1,
        "clean_error": 1,
    }


@pytest.mark.parametrize(
    ("module", "qualname", "params", "message"),
    [
        ("tests.blocks.extractors.no_such_module", "X", {}, "No module named"),
        ("os", "getcwd", {}, "is not a SandboxedExtractor"),
        ("tests.blocks.extractors.faulty", "_FaultyExtractor", {"bogus": 1}, "bogus"),
    ],
)
def test_child_that_cannot_start_fails_the_shard(
    module: str, qualname: str, params: dict[str, object], message: str
) -> None:
    box = ExtractorSandbox(module, qualname, params, timeout=1)
    box.submit("a")
    with pytest.raises(SandboxError, match=message):
        box.next_outcome()
    assert box.pid is None


def test_parameters_must_be_json() -> None:
    block = _FaultyExtractor(tag=object())
    with pytest.raises(SandboxError, match="JSON"):
        list(block.run(docs("a")))
    assert [d.text for d in _FaultyExtractor(tag={"k": [1, 2]}).run(docs("a"))] == ["A"]


def test_local_classes_cannot_be_rebuilt_in_the_child() -> None:
    class Local(_FaultyExtractor):
        pass

    with pytest.raises(SandboxError, match="module level"):
        list(Local().run(docs("a")))


def test_sandbox_direct_use_and_window() -> None:
    with ExtractorSandbox(
        "tests.blocks.extractors.faulty", "_FaultyExtractor", {}, timeout=5, max_in_flight=3
    ) as box:
        for text in ("a", "b", "c", "d", "e"):
            box.submit(text)
        assert box.pending == 5
        outcomes = [box.next_outcome() for _ in range(5)]
        assert [o.text for o in outcomes] == ["A", "B", "C", "D", "E"]
        assert all(o.kind == "ok" and o.seconds is not None for o in outcomes)
        with pytest.raises(RuntimeError):
            box.next_outcome()
    assert box.pid is None


_PARENT = """
import sys
from blocks.document import Document
from tests.blocks.extractors.faulty import _FaultyExtractor
stream = _FaultyExtractor(timeout=600).run(iter([Document("PID", "a"), Document("HANG", "b")]))
print(next(stream).text, flush=True)
next(stream)
"""


def test_child_dies_with_its_parent() -> None:
    """A worker killed mid-document (SIGKILL, lost lease) leaves no extractor behind."""
    import signal
    import subprocess
    import sys
    import time

    root = str(Path(__file__).resolve().parents[3])
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(100):  # the kernel delivers the death signal at once; reaping may lag
        if not alive(child) or _zombie(child):
            break
        time.sleep(0.05)
    assert not alive(child) or _zombie(child)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def test_a_late_parent_still_gets_answers_within_the_timeout() -> None:
    """The parent busy elsewhere past the deadline must not turn finished work into timeouts;
    work that itself took longer than the timeout is a timeout even if nobody watched."""
    import time

    with ExtractorSandbox(
        "tests.blocks.extractors.faulty", "_FaultyExtractor", {}, timeout=0.3
    ) as box:
        box.submit("PID")
        first = box.next_outcome().text
        box.submit("quick")
        box.submit("SLOW 0.6")
        box.submit("PID")
        time.sleep(1.0)  # the rest of the pipeline, say
        quick, slow, pid = box.next_outcome(), box.next_outcome(), box.next_outcome()
    assert (quick.kind, quick.text) == ("ok", "QUICK")
    assert slow.kind == "timeout" and slow.seconds is not None and slow.seconds >= 0.6
    assert pid.kind == "ok" and pid.text != first  # a fresh child, as after a kill
    assert box.starts == 2
