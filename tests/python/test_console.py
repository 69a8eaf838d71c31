"""jupyter-console driving the llmspell kernel through a pipe (--simple-prompt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import snippets as S

JUPYTER = str(Path(sys.executable).parent / "jupyter")


def test_console_piped(kernel_name: str) -> None:
    cmd = [
        JUPYTER,
        "console",
        f"--kernel={kernel_name}",
        "--simple-prompt",
        "--ZMQTerminalInteractiveShell.confirm_exit=False",
        "--ZMQTerminalInteractiveShell.kernel_timeout=60",
    ]
    code = f"{S.HELLO_WORLD}\n{S.EXPR}\n"
    proc = subprocess.run(cmd, input=code, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "hello, world" in proc.stdout
    assert S.EXPR_RESULT in proc.stdout
