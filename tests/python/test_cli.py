"""`llmspell exec CODE` and `llmspell run FILE`: Lua without a Jupyter client."""

from __future__ import annotations

import subprocess
from pathlib import Path

import snippets as S
from harness import llmspell_bin


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [llmspell_bin(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_exec_prints() -> None:
    proc = run("exec", S.HELLO_WORLD)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello, world\n"


def test_exec_error_exits_nonzero() -> None:
    proc = run("exec", S.RUNTIME_ERROR)
    assert proc.returncode != 0
    assert S.ERROR_EVALUE_PART in proc.stderr


def test_run_file(tmp_path: Path) -> None:
    script = tmp_path / "hello.lua"
    script.write_text(f"{S.HELLO_WORLD}\n{S.STDERR}\n")
    proc = run("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello, world\n"
    assert S.STDERR_TEXT in proc.stderr


def test_run_missing_file_fails(tmp_path: Path) -> None:
    proc = run("run", str(tmp_path / "missing.lua"))
    assert proc.returncode != 0
    assert proc.stderr.strip()
