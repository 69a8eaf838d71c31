"""The debugger in Jupyter mode (JEP 47), driven by jupyter_client the way JupyterLab 4
drives it: debugInfo, initialize, attach, setExceptionBreakpoints, inspectVariables,
modules, dumpCell, setBreakpoints, execute, stopped, stackTrace, source, scopes,
variables, evaluate, next/stepIn/stepOut, continue, disconnect. Plus bad input.

Cell file names are checked against ipykernel's own murmur2 (the hash JupyterLab also
computes in the browser), so a gutter breakpoint lands on the file the kernel runs.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from ipykernel.compiler import murmur2_x86
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from harness import REPLY_TIMEOUT, control_reply, shell_reply, start_kernel, stop_kernel

Kernel = tuple[KernelManager, BlockingKernelClient]

CELL = """local function double(v)
  local twice = v * 2
  return twice
end
local t = {n = 1, list = {10, 20}}
local a = double(21)
print("a is", a)
return a + t.n"""


class Debugger:
    """A DAP client over jupyter_client's control channel and iopub."""

    def __init__(self, kc: BlockingKernelClient) -> None:
        self.kc = kc
        self.seq = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def request(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sends a debug_request; returns the debug_reply's content (a DAP response)."""
        seq = next(self.seq)
        content = {"type": "request", "seq": seq, "command": command}
        if arguments is not None:
            content["arguments"] = arguments
        msg = self.kc.session.msg("debug_request", content)
        self.kc.control_channel.send(msg)
        reply = control_reply(self.kc, msg["header"]["msg_id"])
        assert reply["msg_type"] == "debug_reply"
        body = reply["content"]
        assert body["type"] == "response" and body["request_seq"] == seq, body
        assert body["command"] == command, body
        return body

    def ok(self, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """The body of a successful response."""
        response = self.request(command, arguments)
        assert response["success"], response
        return response.get("body", {})

    def event(self, name: str, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """Waits for a debug_event named `name` (earlier ones are kept, in order)."""
        for i, ev in enumerate(self.events):
            if ev["event"] == name:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no debug_event {name!r} within {timeout}s")
            try:
                msg = self.kc.get_iopub_msg(timeout=left)
            except Empty:
                continue
            if msg["msg_type"] != "debug_event":
                continue
            if msg["content"]["event"] == name:
                return msg["content"]
            self.events.append(msg["content"])

    def stopped(self) -> dict[str, Any]:
        return self.event("stopped")["body"]

    def top(self) -> dict[str, Any]:
        frames = self.ok("stackTrace", {"threadId": 1})["stackFrames"]
        return frames[0]

    def variables(self, reference: int) -> dict[str, dict[str, Any]]:
        body = self.ok("variables", {"variablesReference": reference})
        return {v["name"]: v for v in body["variables"]}


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    km, kc = start_kernel()
    try:
        yield km, kc
    finally:
        stop_kernel(km, kc)


def start(dbg: Debugger) -> dict[str, Any]:
    """debugInfo, initialize, attach, setExceptionBreakpoints, as JupyterLab starts."""
    info = dbg.ok("debugInfo")
    assert info["isStarted"] is False
    assert info["hashMethod"] == "Murmur2"
    assert info["tmpFileSuffix"] == ".lua"
    assert info["breakpoints"] == [] and info["stoppedThreads"] == []
    caps = dbg.ok(
        "initialize",
        {
            "clientID": "jupyterlab",
            "clientName": "JupyterLab",
            "adapterID": "lua",
            "pathFormat": "path",
            "linesStartAt1": True,
            "columnsStartAt1": True,
            "supportsVariableType": True,
            "supportsVariablePaging": True,
            "supportsRunInTerminalRequest": True,
            "locale": "en",
        },
    )
    assert caps["supportsConfigurationDoneRequest"] is True
    assert caps["supportsConditionalBreakpoints"] is True
    assert caps["supportsLogPoints"] is True
    assert caps["exceptionBreakpointFilters"][0]["filter"] == "uncaught"
    dbg.ok("attach", {})
    dbg.ok("setExceptionBreakpoints", {"filters": []})
    return info


def test_kernel_info_and_kernelspec_announce_the_debugger(kernel: Kernel, kernelspec: Path) -> None:
    import json

    _, kc = kernel
    reply = kc.kernel_info(reply=True, timeout=REPLY_TIMEOUT)["content"]
    assert reply["debugger"] is True
    assert "debugger" in reply["supported_features"]
    spec = json.loads((kernelspec / "kernel.json").read_text())
    assert spec["metadata"]["debugger"] is True


def test_jupyterlab_session(kernel: Kernel) -> None:
    _, kc = kernel
    dbg = Debugger(kc)
    info = start(dbg)
    # Asked before any cell, as JupyterLab does.
    assert dbg.ok("inspectVariables")["variables"] == []
    assert dbg.ok("modules")["totalModules"] == 0

    path = f"{info['tmpFilePrefix']}{murmur2_x86(CELL, info['hashSeed'])}{info['tmpFileSuffix']}"
    dumped = dbg.ok("dumpCell", {"code": CELL})
    assert dumped["sourcePath"] == path
    assert Path(path).read_text() == CELL
    bps = dbg.ok(
        "setBreakpoints",
        {
            "source": {"path": path},
            "breakpoints": [{"line": 6}],
            "lines": [6],
            "sourceModified": False,
        },
    )
    assert bps["breakpoints"][0]["verified"] is True

    msg_id = kc.execute(CELL)
    stop = dbg.stopped()
    assert stop["reason"] == "breakpoint" and stop["threadId"] == 1
    # Control answers while shell is stopped.
    kc.kernel_info()
    info = dbg.ok("debugInfo")
    assert info["isStarted"] is True and info["stoppedThreads"] == [1]
    assert info["breakpoints"] == [{"source": path, "breakpoints": [{"line": 6}]}]

    frame = dbg.top()
    assert frame["line"] == 6 and frame["source"]["path"] == path
    source = dbg.ok("source", {"source": {"path": path}})
    assert source["content"] == CELL
    scopes = dbg.ok("scopes", {"frameId": frame["id"]})["scopes"]
    assert [s["name"] for s in scopes] == ["Locals", "Upvalues", "Globals"]
    local = dbg.variables(scopes[0]["variablesReference"])
    assert {"double", "t"} <= set(local)
    assert local["t"]["type"] == "table" and local["t"]["variablesReference"] > 0
    fields = dbg.variables(local["t"]["variablesReference"])
    assert fields["n"]["value"] == "1"
    listed = dbg.variables(fields["list"]["variablesReference"])
    assert [v["value"] for v in listed.values()] == ["10", "20"]
    ev = dbg.ok("evaluate", {"expression": "t.n + 41", "frameId": frame["id"], "context": "repl"})
    assert ev["result"] == "42"

    dbg.ok("stepIn", {"threadId": 1})
    dbg.event("continued")
    assert dbg.stopped()["reason"] == "step"
    frame = dbg.top()
    assert (frame["name"], frame["line"]) == ("double", 2)
    dbg.ok("next", {"threadId": 1})
    assert dbg.stopped()["reason"] == "step"
    frame = dbg.top()
    assert frame["line"] == 3
    scopes = dbg.ok("scopes", {"frameId": frame["id"]})["scopes"]
    assert dbg.variables(scopes[0]["variablesReference"])["twice"]["value"] == "42"
    dbg.ok("stepOut", {"threadId": 1})
    dbg.stopped()
    frame = dbg.top()
    assert (frame["name"], frame["line"]) == ("main chunk", 7)

    # A bad evaluate is an error response; the kernel goes on.
    bad = dbg.request("evaluate", {"expression": "nil + 1", "frameId": frame["id"]})
    assert bad["success"] is False and "arithmetic" in bad["message"]

    dbg.ok("continue", {"threadId": 1})
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok"

    assert {v["name"] for v in dbg.ok("inspectVariables")["variables"]} == set()
    rich = dbg.ok("richInspectVariables", {"variableName": "string"})
    assert "text/plain" in rich["data"]

    dbg.ok("disconnect", {"restart": False, "terminateDebuggee": True})
    info = dbg.ok("debugInfo")
    assert info["isStarted"] is False and info["breakpoints"] == []
    # Detached: the same cell runs through.
    msg_id = kc.execute(CELL)
    assert shell_reply(kc, msg_id)["content"]["status"] == "ok"


def test_uncaught_errors_conditions_and_interrupts(kernel: Kernel) -> None:
    km, kc = kernel
    dbg = Debugger(kc)
    info = start(dbg)
    dbg.ok("setExceptionBreakpoints", {"filters": ["uncaught"]})
    code = "local limit = 3\nerror('over the limit: ' .. limit)"
    msg_id = kc.execute(code)
    stop = dbg.stopped()
    assert stop["reason"] == "exception" and "over the limit: 3" in stop["text"]
    exc = dbg.ok("exceptionInfo", {"threadId": 1})
    assert exc["breakMode"] == "unhandled"
    frame = dbg.top()
    assert frame["line"] == 2
    ev = dbg.ok("evaluate", {"expression": "limit", "frameId": frame["id"]})
    assert ev["result"] == "3"
    dbg.ok("continue", {"threadId": 1})
    assert shell_reply(kc, msg_id)["content"]["status"] == "error"
    dbg.ok("setExceptionBreakpoints", {"filters": []})

    loop = "local total = 0\nfor i = 1, 100 do\n  total = total + i\nend\nreturn total"
    path = dbg.ok("dumpCell", {"code": loop})["sourcePath"]
    assert path.startswith(info["tmpFilePrefix"])
    dbg.ok(
        "setBreakpoints",
        {"source": {"path": path}, "breakpoints": [{"line": 3, "condition": "i == 50"}]},
    )
    msg_id = kc.execute(loop)
    dbg.stopped()
    frame = dbg.top()
    assert dbg.ok("evaluate", {"expression": "i", "frameId": frame["id"]})["result"] == "50"
    # An interrupt ends the stop, and the cell, with KeyboardInterrupt.
    km.interrupt_kernel()
    reply = shell_reply(kc, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    dbg.event("continued")
    # The kernel is fine afterwards.
    dbg.ok("setBreakpoints", {"source": {"path": path}, "breakpoints": []})
    msg_id = kc.execute("return 1 + 1")
    assert shell_reply(kc, msg_id)["content"]["status"] == "ok"


def test_bad_debug_requests(kernel: Kernel) -> None:
    _, kc = kernel
    dbg = Debugger(kc)
    unknown = dbg.request("frobnicate", {})
    assert unknown["success"] is False and "frobnicate" in unknown["message"]
    missing = dbg.request("scopes", {})
    assert missing["success"] is False and "frameId" in missing["message"]
    wrong = dbg.request("setBreakpoints", {"source": {"path": 7}})
    assert wrong["success"] is False and "source.path" in wrong["message"]
    not_stopped = dbg.request("stackTrace", {"threadId": 1})
    assert not_stopped["success"] is False and "not stopped" in not_stopped["message"]
    step = dbg.request("next", {"threadId": 1})
    assert step["success"] is False
    # Content that is not a DAP request at all.
    msg = kc.session.msg("debug_request", {"seq": 1})
    kc.control_channel.send(msg)
    reply = control_reply(kc, msg["header"]["msg_id"])
    assert reply["content"]["success"] is False
    # The kernel still works.
    msg_id = kc.execute("return 6 * 7")
    assert shell_reply(kc, msg_id)["content"]["status"] == "ok"
