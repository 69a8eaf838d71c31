"""The llmspell kernel driven by jupyter_client (KernelManager + BlockingKernelClient)."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

import snippets as S
from harness import (
    control_reply,
    execute,
    iopub_until_idle,
    llmspell_bin,
    shell_reply,
    start_kernel,
    stop_kernel,
    wait_exit,
    wait_iopub,
)

Kernel = tuple[KernelManager, BlockingKernelClient]


@pytest.fixture
def kernel(kernel_name: str) -> Iterator[Kernel]:
    km, kc = start_kernel(kernel_name)
    try:
        yield km, kc
    finally:
        stop_kernel(km, kc)


def start_busy_loop(kc: BlockingKernelClient) -> str:
    """Starts the infinite loop and returns once the kernel reports busy for it."""
    msg_id = kc.execute(S.INFINITE_LOOP)
    wait_iopub(kc, msg_id, "status", execution_state="busy")
    return msg_id


def test_kernelspec_contract(kernelspec: Path) -> None:
    spec = json.loads((kernelspec / "kernel.json").read_text())
    binary = llmspell_bin()
    assert spec["argv"] == [binary, "kernel", "start", "-f", "{connection_file}"]
    assert os.path.isabs(spec["argv"][0])
    assert spec["language"] == S.LANGUAGE
    assert spec["interrupt_mode"] == "message"
    assert spec.get("display_name")
    found = KernelSpecManager().find_kernel_specs()
    assert Path(found[S.KERNEL_NAME]).resolve() == kernelspec.resolve()


def test_kernel_info_reply(kernel: Kernel) -> None:
    _, kc = kernel
    reply = shell_reply(kc, kc.kernel_info())
    content = reply["content"]
    assert reply["header"]["version"] == S.PROTOCOL_VERSION
    assert content["status"] == "ok"
    assert content["protocol_version"] == S.PROTOCOL_VERSION
    assert content["implementation"] == S.IMPLEMENTATION
    assert content["implementation_version"]
    info = content["language_info"]
    assert info["name"] == S.LANGUAGE
    assert str(info["version"]).startswith(S.LANGUAGE_VERSION_PREFIX)
    assert info["file_extension"] == S.FILE_EXTENSION
    assert isinstance(content["banner"], str)


def test_comm_info(kernel: Kernel) -> None:
    _, kc = kernel
    reply = shell_reply(kc, kc.comm_info())
    assert reply["msg_type"] == "comm_info_reply"
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["comms"] == {}


def test_execute_outputs_and_counts(kernel: Kernel) -> None:
    _, kc = kernel
    first = execute(kc, S.HELLO_WORLD)
    assert first.status == "ok"
    assert "hello, world" in first.stream("stdout")
    inputs = first.of_type("execute_input")
    assert len(inputs) == 1 and inputs[0]["content"]["code"] == S.HELLO_WORLD

    second = execute(kc, S.EXPR)
    assert second.status == "ok"
    assert (
        second.reply["content"]["execution_count"] == first.reply["content"]["execution_count"] + 1
    )
    results = second.of_type("execute_result")
    assert len(results) == 1
    assert results[0]["content"]["data"]["text/plain"] == S.EXPR_RESULT
    assert results[0]["content"]["execution_count"] == second.reply["content"]["execution_count"]

    silent = execute(kc, S.EXPR, silent=True)
    assert silent.status == "ok"
    assert silent.of_type("execute_result") == []
    third = execute(kc, S.STRING_EXPR)
    assert (
        third.reply["content"]["execution_count"] == second.reply["content"]["execution_count"] + 1
    )
    assert third.of_type("execute_result")[0]["content"]["data"]["text/plain"] == S.STRING_RESULT


@pytest.mark.parametrize(
    ("code", "ename"),
    [(S.RUNTIME_ERROR, S.RUNTIME_ENAME), (S.SYNTAX_ERROR, S.SYNTAX_ENAME)],
    ids=["runtime", "syntax"],
)
def test_error_message(kernel: Kernel, code: str, ename: str) -> None:
    _, kc = kernel
    cell = execute(kc, code)
    assert cell.status == "error"
    assert cell.reply["content"]["ename"] == ename
    errors = cell.of_type("error")
    assert len(errors) == 1
    assert errors[0]["content"]["ename"] == ename
    assert isinstance(errors[0]["content"]["traceback"], list)
    if code == S.RUNTIME_ERROR:
        assert S.ERROR_EVALUE_PART in errors[0]["content"]["evalue"]
    assert execute(kc, S.EXPR).status == "ok"


def test_interrupt_message_mode(kernel: Kernel) -> None:
    km, kc = kernel
    assert km.kernel_spec is not None and km.kernel_spec.interrupt_mode == "message"
    msg_id = start_busy_loop(kc)
    # An interrupt that lands between `busy` and the start of the code may be lost
    # (ipykernel loses about one in eight there, and then ignores later ones), so give
    # the loop a moment to start, and interrupt again, as a user would, if no reply
    # follows within a few seconds.
    time.sleep(0.5)
    reply = None
    for _ in range(6):
        km.interrupt_kernel()
        try:
            reply = shell_reply(kc, msg_id, timeout=5.0)
            break
        except TimeoutError:
            continue
    assert reply is not None, "six interrupts did not stop the loop"
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == S.INTERRUPT_ENAME
    outputs = iopub_until_idle(kc, msg_id)
    errors = [m for m in outputs if m["msg_type"] == "error"]
    assert len(errors) == 1 and errors[0]["content"]["ename"] == S.INTERRUPT_ENAME
    after = execute(kc, S.EXPR)
    assert after.status == "ok"
    assert after.of_type("execute_result")[0]["content"]["data"]["text/plain"] == S.EXPR_RESULT


def test_stdin_input_request(kernel: Kernel) -> None:
    _, kc = kernel
    msg_id = kc.execute(S.READ_AND_ECHO, allow_stdin=True)
    request = kc.get_stdin_msg(timeout=30)
    assert request["msg_type"] == "input_request"
    assert request["parent_header"]["msg_id"] == msg_id
    assert request["content"]["password"] is False
    kc.input("hello")
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok"
    outputs = iopub_until_idle(kc, msg_id)
    text = "".join(
        m["content"]["text"]
        for m in outputs
        if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )
    assert S.READ_AND_ECHO_OUTPUT in text


def test_stdin_not_allowed(kernel: Kernel) -> None:
    _, kc = kernel
    cell = execute(kc, S.READ_AND_ECHO, allow_stdin=False)
    assert cell.status == "error"
    assert execute(kc, S.EXPR).status == "ok"


def test_shutdown_request(kernel: Kernel) -> None:
    km, kc = kernel
    msg_id = kc.shutdown()
    reply = control_reply(kc, msg_id)
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"]["status"] == "ok"
    assert reply["content"]["restart"] is False
    assert wait_exit(km.is_alive, 15.0), "kernel still running 15 s after shutdown_reply"


def test_restart(kernel: Kernel) -> None:
    km, kc = kernel
    assert execute(kc, S.SET_VAR).status == "ok"
    assert execute(kc, S.PRINT_VAR_STATE).stream("stdout").strip() == "set"
    old_pid = km.provisioner.pid  # type: ignore[union-attr]
    km.restart_kernel()
    assert km.provisioner.pid != old_pid  # type: ignore[union-attr]
    kc.stop_channels()
    new_kc = km.client()
    new_kc.start_channels()
    try:
        new_kc.wait_for_ready(timeout=60)
        cell = execute(new_kc, S.PRINT_VAR_STATE)
        assert cell.status == "ok"
        assert cell.stream("stdout").strip() == "unset"
        assert cell.reply["content"]["execution_count"] == 1
    finally:
        new_kc.stop_channels()


def test_control_while_shell_busy(kernel: Kernel) -> None:
    km, kc = kernel
    start_busy_loop(kc)
    info = kc.session.msg("kernel_info_request")
    kc.control_channel.send(info)
    reply = control_reply(kc, info["header"]["msg_id"])
    assert reply["msg_type"] == "kernel_info_reply"
    assert reply["content"]["language_info"]["name"] == S.LANGUAGE
    reply = control_reply(kc, kc.shutdown())
    assert reply["msg_type"] == "shutdown_reply"
    assert reply["content"]["status"] == "ok"


def test_shutdown_ends_busy_kernel(kernel: Kernel) -> None:
    # Stricter than ipykernel (whose busy main thread keeps it alive until the client
    # kills it): the Lua engine runs on its own thread, so the process can exit.
    km, kc = kernel
    start_busy_loop(kc)
    reply = control_reply(kc, kc.shutdown())
    assert reply["msg_type"] == "shutdown_reply"
    assert wait_exit(km.is_alive, 15.0), "busy kernel still running 15 s after shutdown_reply"


def test_ipc_transport(runtime_dir: Path) -> None:
    km, kc = start_kernel(transport="ipc")
    try:
        info = km.get_connection_info()
        assert info["transport"] == "ipc"
        sock = Path(f"{info['ip']}-{info['shell_port']}")
        assert sock.exists() and stat.S_ISSOCK(sock.stat().st_mode), sock
        cell = execute(kc, S.EXPR)
        assert cell.status == "ok"
        assert cell.of_type("execute_result")[0]["content"]["data"]["text/plain"] == S.EXPR_RESULT
        assert "hello, world" in execute(kc, S.HELLO_WORLD).stream("stdout")
    finally:
        stop_kernel(km, kc)


def test_stop_on_error_aborts_queue(kernel: Kernel) -> None:
    _, kc = kernel
    # The first cell waits on stdin, so the next two are queued in the kernel before it fails.
    first = kc.execute(S.READ_THEN_ERROR, allow_stdin=True)
    queued = [kc.execute(S.PRINT_AFTER), kc.execute(S.PRINT_AFTER)]
    request = kc.get_stdin_msg(timeout=30)
    assert request["parent_header"]["msg_id"] == first
    kc.input("x")
    assert shell_reply(kc, first)["content"]["status"] == "error"
    for msg_id in queued:
        reply = shell_reply(kc, msg_id)
        assert reply["content"]["status"] == "aborted", reply["content"]
    after = execute(kc, S.PRINT_AFTER)
    assert after.status == "ok"
    assert S.PRINT_AFTER_OUTPUT in after.stream("stdout")


def test_stop_on_error_false_keeps_queue(kernel: Kernel) -> None:
    _, kc = kernel
    first = kc.execute(S.READ_THEN_ERROR, allow_stdin=True, stop_on_error=False)
    queued = kc.execute(S.PRINT_AFTER)
    kc.get_stdin_msg(timeout=30)
    kc.input("x")
    assert shell_reply(kc, first)["content"]["status"] == "error"
    assert shell_reply(kc, queued)["content"]["status"] == "ok"


def test_history_tail(kernel: Kernel) -> None:
    _, kc = kernel
    for code in (S.EXPR, S.STRING_EXPR):
        assert execute(kc, code).status == "ok"
    reply = shell_reply(kc, kc.history(hist_access_type="tail", n=2, output=False, raw=True))
    assert reply["content"]["status"] == "ok"
    assert [h[2] for h in reply["content"]["history"]] == [S.EXPR, S.STRING_EXPR]


def tool_request(kc: BlockingKernelClient, content: dict) -> dict:
    """Sends a tool_request on shell with jupyter_client's session; returns the reply."""
    msg = kc.session.msg("tool_request", content)
    kc.shell_channel.send(msg)
    reply = shell_reply(kc, msg["header"]["msg_id"])
    assert reply["msg_type"] == "tool_reply"
    return reply["content"]


def test_tools_over_the_wire(kernel: Kernel) -> None:
    _, kc = kernel
    listed = tool_request(kc, {"command": "list"})
    names = [t["name"] for t in listed["tools"]]
    assert len(names) >= 20 and "calculator" in names
    out = tool_request(kc, {"command": "invoke", "name": "calculator", "params": {"input": "2+3*4"}})
    assert out["status"] == "ok" and out["text"] == "14"
    bad = tool_request(kc, {"command": "invoke", "name": "calculater", "params": {"input": "1"}})
    assert bad["status"] == "error" and bad["error"]["kind"] == "unknown_tool"
    assert "calculator" in bad["error"]["suggestions"]
    batch = tool_request(
        kc,
        {
            "command": "batch",
            "calls": [
                {"name": "hash-calculator", "params": {"input": "abc", "algorithm": "sha256"}},
                {"name": "calculator", "params": {"input": "1/0"}},
            ],
        },
    )
    assert batch["results"][0]["text"].startswith("ba7816bf")
    assert batch["results"][1]["success"] is False
    # A tool call is answered while a cell runs: tools never wait for the Lua engine.
    start_busy_loop(kc)
    out = tool_request(kc, {"command": "invoke", "name": "calculator", "params": {"input": "6*7"}})
    assert out["text"] == "42"
    kernel[0].interrupt_kernel()
