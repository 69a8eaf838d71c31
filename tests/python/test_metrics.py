"""`kernel start --metrics-port N`: Prometheus text on 127.0.0.1, counting what real
clients did: requests by type, durations, connections, tool calls and errors by tool, and
messages dropped by reason."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import snippets as S
from harness import REPLY_TIMEOUT, RawKernel, llmspell_bin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def metered(short_tmp: Path) -> Iterator[tuple[RawKernel, int]]:
    port = free_port()
    kernel = RawKernel(llmspell_bin(), short_tmp, ("--metrics-port", str(port)))
    try:
        kernel.wait_ready()
        yield kernel, port
    finally:
        kernel.stop()


def scrape(port: int, path: str = "/metrics") -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=REPLY_TIMEOUT) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample; fails the test if it is absent."""
    label = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(f"{name}{{{label}}}" if label else name) + r" (\S+)$"
    m = re.search(pattern, text, re.MULTILINE)
    assert m, f"no sample {name}{labels} in:\n{text[:2000]}"
    return float(m.group(1))


def test_metrics_count_what_clients_did(metered: tuple[RawKernel, int]) -> None:
    kernel, port = metered
    shell = kernel.dealer("shell")
    for _ in range(3):
        reply = kernel.request(shell, "execute_request", {"code": S.EXPR, "silent": False})
        assert reply is not None and reply["content"]["status"] == "ok"
    ok = kernel.request(
        shell, "tool_request", {"command": "invoke", "name": "calculator", "params": {"input": "2+2"}}
    )
    assert ok is not None and ok["content"]["status"] == "ok", ok
    bad = kernel.request(
        shell, "tool_request", {"command": "invoke", "name": "calculator", "params": {"input": "2+"}}
    )
    assert bad is not None and bad["content"]["status"] == "error", bad
    # A message signed with the wrong key is dropped and counted.
    _, parts = kernel.parts("kernel_info_request")
    kernel.send(shell, [b"<IDS|MSG>", b"0" * 64, *parts])
    kernel.assert_alive()

    status, content_type, text = scrape(port)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert sample(text, "llmspell_kernel_requests_total", type="execute_request") == 3
    assert sample(text, "llmspell_kernel_requests_total", type="tool_request") == 2
    # wait_ready and assert_alive sent kernel_info_requests; at least those two.
    assert sample(text, "llmspell_kernel_requests_total", type="kernel_info_request") >= 2
    assert (
        sample(text, "llmspell_kernel_request_duration_seconds_count", type="execute_request") == 3
    )
    assert sample(text, "llmspell_tool_invocations_total", tool="calculator") == 2
    assert sample(text, "llmspell_tool_errors_total", tool="calculator") == 1
    assert sample(text, "llmspell_kernel_messages_dropped_total", reason="bad_signature") == 1
    assert sample(text, "llmspell_kernel_active_connections") >= 1


def test_metrics_endpoint_refuses_what_it_does_not_serve(metered: tuple[RawKernel, int]) -> None:
    kernel, port = metered
    assert scrape(port, "/nope")[0] == 404
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT) as s:
        s.sendall(b"\x16\x03\x01\x00garbage\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 400")
    assert scrape(port)[0] == 200
    kernel.assert_alive()
