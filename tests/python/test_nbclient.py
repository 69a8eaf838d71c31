"""Notebooks in Lua run by nbclient (its `jupyter execute` CLI and its API) and papermill."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import snippets as S

TIMEOUT = 60
JUPYTER = str(Path(sys.executable).parent / "jupyter")


def notebook(*cells: Any, kernel_name: str = S.KERNEL_NAME) -> nbformat.NotebookNode:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {
        "name": kernel_name,
        "display_name": "Lua (llmspell)",
        "language": S.LANGUAGE,
    }
    nb.metadata["language_info"] = {"name": S.LANGUAGE}
    return nb


def main_notebook(kernel_name: str) -> nbformat.NotebookNode:
    return notebook(
        new_markdown_cell("# llmspell"),
        new_code_cell(S.NB_PRINT),
        new_code_cell(S.EXPR),
        new_code_cell(S.DISPLAY_HTML),
        kernel_name=kernel_name,
    )


def error_notebook(kernel_name: str) -> nbformat.NotebookNode:
    return notebook(
        new_code_cell(S.NB_PRINT),
        new_code_cell(S.RUNTIME_ERROR),
        new_code_cell(S.PRINT_AFTER),
        kernel_name=kernel_name,
    )


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    return path


def check_main_outputs(nb: nbformat.NotebookNode) -> None:
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3]

    printed = code[0].outputs
    assert [o.output_type for o in printed] == ["stream"]
    assert printed[0].name == "stdout"
    assert printed[0].text == S.NB_PRINT_OUTPUT

    results = code[1].outputs
    assert [o.output_type for o in results] == ["execute_result"]
    assert results[0].data["text/plain"] == S.EXPR_RESULT
    assert results[0].execution_count == 2

    displays = [o for o in code[2].outputs if o.output_type == "display_data"]
    assert len(displays) == 1
    assert displays[0].data["text/html"] == S.DISPLAY_HTML_DATA


def check_error_outputs(nb: nbformat.NotebookNode) -> None:
    nbformat.validate(nb)
    first, failing, after = nb.cells
    assert first.outputs[0].text == S.NB_PRINT_OUTPUT
    errors = [o for o in failing.outputs if o.output_type == "error"]
    assert len(errors) == 1
    assert errors[0].ename == S.RUNTIME_ENAME
    assert S.ERROR_EVALUE_PART in errors[0].evalue
    assert after.execution_count == 3
    assert (
        "".join(o.text for o in after.outputs if o.output_type == "stream")
        == S.PRINT_AFTER_OUTPUT + "\n"
    )


def jupyter_execute(
    path: Path, kernel_name: str, *args: str
) -> subprocess.CompletedProcess[str]:
    cmd = [
        JUPYTER,
        "execute",
        f"--kernel_name={kernel_name}",
        f"--timeout={TIMEOUT}",
        f"--startup_timeout={TIMEOUT}",
        "--output=executed",
        *args,
        str(path),
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=3 * TIMEOUT, stdin=subprocess.DEVNULL
    )


def test_jupyter_execute_cli(tmp_path: Path, kernel_name: str) -> None:
    proc = jupyter_execute(write(main_notebook(kernel_name), tmp_path / "main.ipynb"), kernel_name)
    assert proc.returncode == 0, proc.stderr
    check_main_outputs(nbformat.read(str(tmp_path / "executed.ipynb"), as_version=4))


def test_jupyter_execute_cli_allow_errors(tmp_path: Path, kernel_name: str) -> None:
    path = write(error_notebook(kernel_name), tmp_path / "err.ipynb")
    failing = jupyter_execute(path, kernel_name)
    assert failing.returncode != 0
    assert S.RUNTIME_ENAME in failing.stderr
    proc = jupyter_execute(path, kernel_name, "--allow-errors")
    assert proc.returncode == 0, proc.stderr
    check_error_outputs(nbformat.read(str(tmp_path / "executed.ipynb"), as_version=4))


def test_nbclient_api(kernel_name: str) -> None:
    nb = main_notebook(kernel_name)
    NotebookClient(nb, kernel_name=kernel_name, timeout=TIMEOUT, startup_timeout=TIMEOUT).execute()
    check_main_outputs(nb)
    assert nb.metadata["language_info"]["name"] == S.LANGUAGE


def test_nbclient_api_errors(kernel_name: str) -> None:
    nb = error_notebook(kernel_name)
    client = NotebookClient(nb, kernel_name=kernel_name, timeout=TIMEOUT, startup_timeout=TIMEOUT)
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert info.value.ename == S.RUNTIME_ENAME
    assert nb.cells[2].execution_count is None

    nb = error_notebook(kernel_name)
    NotebookClient(
        nb, kernel_name=kernel_name, timeout=TIMEOUT, startup_timeout=TIMEOUT, allow_errors=True
    ).execute()
    check_error_outputs(nb)


def lua_translator() -> type:
    """A papermill parameter translator for Lua (papermill ships none)."""
    from papermill.translators import Translator

    class LuaTranslator(Translator):
        @classmethod
        def translate_escaped_str(cls, str_val: str) -> str:
            escaped = str_val.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            return f'"{escaped}"'

        @classmethod
        def translate_none(cls, val: Any) -> str:
            return "nil"

        @classmethod
        def translate_bool(cls, val: bool) -> str:
            return "true" if val else "false"

        @classmethod
        def translate_dict(cls, val: dict[str, Any]) -> str:
            items = ", ".join(
                f"[{cls.translate_str(k)}] = {cls.translate(v)}" for k, v in val.items()
            )
            return "{" + items + "}"

        @classmethod
        def translate_list(cls, val: list[Any]) -> str:
            return "{" + ", ".join(cls.translate(v) for v in val) + "}"

        @classmethod
        def comment(cls, cmt_str: str) -> str:
            return f"-- {cmt_str}".strip()

        @classmethod
        def assign(cls, name: str, str_val: str) -> str:
            return f"{name} = {str_val}"

    return LuaTranslator


def test_papermill_parameters(tmp_path: Path, kernel_name: str) -> None:
    papermill = pytest.importorskip("papermill")
    from papermill.translators import papermill_translators

    if "lua" not in papermill_translators._translators:
        papermill_translators.register("lua", lua_translator())
    params = new_code_cell(S.NB_PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    src = write(
        notebook(params, new_code_cell(S.NB_GREET), kernel_name=kernel_name),
        tmp_path / "params.ipynb",
    )
    out = tmp_path / "params-out.ipynb"
    papermill.execute_notebook(
        str(src),
        str(out),
        parameters={"name": "papermill"},
        kernel_name=kernel_name,
        language=S.LANGUAGE,
        progress_bar=False,
        execution_timeout=TIMEOUT,
        start_timeout=TIMEOUT,
    )
    nb = nbformat.read(str(out), as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    greet = nb.cells[-1]
    assert (
        "".join(o.text for o in greet.outputs if o.output_type == "stream") == "hello papermill\n"
    )
