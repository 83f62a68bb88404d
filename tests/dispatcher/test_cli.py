"""The ``shardyard`` CLI without Redis: help, light imports, spec errors, merge-stats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dispatcher.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dispatcher" / "datatrove_stats"
ROOT = Path(__file__).resolve().parents[2]
COMMANDS = sorted(main.commands)


def test_every_command_is_there() -> None:
    assert set(COMMANDS) >= {
        "run",
        "submit",
        "status",
        "stats",
        "requeue",
        "failed",
        "logs",
        "cancel",
        "list",
        "merge-stats",
        "validate",
    }


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_help_has_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    example = result.output.split("Example:", 1)[1]
    assert "shardyard " in example, "the example shows a real command line"


def test_redis_commands_take_redis_and_insecure() -> None:
    for command in ("status", "stats", "requeue", "failed", "logs", "cancel", "list", "submit"):
        text = CliRunner().invoke(main, [command, "--help"]).output
        assert "--redis" in text and "--insecure" in text, command


def test_importing_the_cli_stays_light() -> None:
    heavy = ["trafilatura", "fasttext", "tokenizers", "pyarrow", "celery", "redis", "resiliparse"]
    code = f"import sys, dispatcher.cli\nprint([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def _good(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "in").mkdir(exist_ok=True)
    return {
        "name": "t",
        "stages": [
            {
                "name": "s",
                "tasks": 2,
                "pipeline": [
                    {"JsonlReader": {"data_folder": str(tmp_path / "in")}},
                    {"SamplerFilter": {"rate": 0.5}},
                    {"JsonlWriter": {"output_folder": str(tmp_path / "out")}},
                ],
            }
        ],
    }


def test_validate_ok_and_bad(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["validate", str(_write(tmp_path / "ok.json", _good(tmp_path)))])
    assert good.exit_code == 0 and "ok: t" in good.output
    spec = _good(tmp_path)
    spec["stages"][0]["pipeline"][1]["SamplerFilter"]["rate"] = "half"
    bad = runner.invoke(main, ["validate", str(_write(tmp_path / "bad.json", spec))])
    assert bad.exit_code == 2
    assert "stages[0].pipeline[1].SamplerFilter.rate" in bad.output
    assert "Traceback" not in bad.output
    missing = runner.invoke(main, ["validate", str(tmp_path / "absent.yaml")])
    assert missing.exit_code == 2 and "cannot read spec" in missing.output


def test_submit_with_a_bad_spec_exits_2_before_touching_redis(tmp_path: Path) -> None:
    spec = _good(tmp_path)
    spec["stages"][0]["pipeline"][0] = {"JsonlReadr": {"data_folder": "x"}}
    result = CliRunner().invoke(
        main,
        ["submit", str(_write(tmp_path / "bad.json", spec)), "--redis", "redis://127.0.0.1:1/0"],
    )
    assert result.exit_code == 2
    assert (
        "stages[0].pipeline[0]" in result.output and "did you mean 'JsonlReader'" in result.output
    )


def test_submit_refuses_a_passwordless_remote_redis(tmp_path: Path) -> None:
    spec = _write(tmp_path / "ok.json", _good(tmp_path))
    result = CliRunner().invoke(main, ["submit", str(spec), "--redis", "redis://10.1.2.3:6379/0"])
    assert result.exit_code == 2 and "passwordless" in result.output


def test_run_rejects_zero_tasks(tmp_path: Path) -> None:
    spec = _write(tmp_path / "ok.json", _good(tmp_path))
    result = CliRunner().invoke(main, ["run", str(spec), "--tasks", "0"])
    assert result.exit_code == 2 and "--tasks" in result.output


def test_merge_stats_of_a_datatrove_folder(tmp_path: Path) -> None:
    out = tmp_path / "merged.json"
    result = CliRunner().invoke(main, ["merge-stats", str(FIXTURES), "-o", str(out)])
    assert result.exit_code == 0, result.output
    merged = json.loads(out.read_text())
    assert merged["format"] == "shardyard.stats/1" and merged["shards"] == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = CliRunner().invoke(main, ["merge-stats", str(empty), "-o", str(out)])
    assert failed.exit_code == 2 and failed.output.startswith("error: no per-shard stats")


def test_status_needs_a_redis_or_a_logging_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHARDYARD_REDIS_URL", raising=False)
    result = CliRunner().invoke(main, ["status", "r1"])
    assert result.exit_code == 2 and "--redis" in result.output
    result = CliRunner().invoke(main, ["status", "r1", "--logging-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no shardyard state" in result.output
