"""Hostile and broken input on the kernel's sockets, with raw pyzmq and raw TCP.

Each test starts its own kernel by hand (`llmspell kernel start -f FILE
--max-message-size-mb 1`), stops it by pid, and bounds every wait.

To see that a bad message was dropped, a good request follows it on the same
connection: the shell channel is served in order, so a reply to the bad message
would arrive before the reply to the good one. Then a short extra wait catches a
late reply, and a fresh connection checks the kernel still answers.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

import snippets as S
from harness import (
    DELIM,
    RawKernel,
    closed_by_peer,
    llmspell_bin,
    recv_zmtp_frame,
    zmtp_frame,
    zmtp_greeting,
    zmtp_ready,
)

LATE_REPLY_WAIT = 0.5
LIMIT_MB = 1


@pytest.fixture
def raw(short_tmp: Path, runtime: str) -> Iterator[RawKernel]:
    args = ("--max-message-size-mb", str(LIMIT_MB), "--runtime", runtime)
    kernel = RawKernel(llmspell_bin(), short_tmp, args)
    try:
        kernel.wait_ready()
        yield kernel
    finally:
        kernel.stop()


def assert_dropped(raw: RawKernel, sock: zmq.Socket, bad_id: str | None) -> None:
    """Sends a good kernel_info after a bad message; asserts nothing answered the bad one."""
    probe_id, frames = raw.frames("kernel_info_request")
    raw.send(sock, frames)
    got = raw.replies_until(sock, probe_id)
    assert got is not None, f"no reply to a good request after the bad one:\n{raw.log()}"
    late = raw.recv(sock, LATE_REPLY_WAIT)
    answered = [m for m in [*got, late] if m is not None and m["msg_id"] != got[-1]["msg_id"]]
    if bad_id is not None:
        answered = [m for m in answered if m["parent_header"].get("msg_id") == bad_id]
    assert answered == [], f"the bad message was answered: {[m['msg_type'] for m in answered]}"
    raw.assert_alive()


def test_good_request_answered(raw: RawKernel) -> None:
    reply = raw.request(raw.dealer("shell"), "execute_request", {"code": S.EXPR, "silent": False})
    assert reply is not None and reply["content"]["status"] == "ok"


def test_bad_signature_dropped(raw: RawKernel) -> None:
    sock = raw.dealer()
    bad_id, parts = raw.parts("kernel_info_request")
    signature = raw.sign(parts)
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    raw.send(sock, [DELIM, forged, *parts])
    assert_dropped(raw, sock, bad_id)


def test_signature_of_other_key_dropped(raw: RawKernel) -> None:
    sock = raw.dealer()
    bad_id, parts = raw.parts("kernel_info_request")
    raw.send(sock, [DELIM, b"0" * 64, *parts])
    assert_dropped(raw, sock, bad_id)


def test_missing_signature_dropped(raw: RawKernel) -> None:
    sock = raw.dealer()
    bad_id, parts = raw.parts("kernel_info_request")
    raw.send(sock, [DELIM, b"", *parts])
    assert_dropped(raw, sock, bad_id)


def test_replayed_message_dropped(raw: RawKernel) -> None:
    sock = raw.dealer()
    msg_id, frames = raw.frames("kernel_info_request")
    raw.send(sock, frames)
    first = raw.replies_until(sock, msg_id)
    assert first is not None, "the original message was not answered"
    raw.send(sock, frames)
    assert_dropped(raw, sock, msg_id)


@pytest.mark.parametrize(
    "shape",
    ["delimiter_only", "no_content", "header_only", "no_delimiter", "empty_frame"],
)
def test_malformed_frames_dropped(raw: RawKernel, shape: str) -> None:
    sock = raw.dealer()
    bad_id, parts = raw.parts("kernel_info_request")
    signature = raw.sign(parts)
    frames = {
        "delimiter_only": [DELIM],
        "no_content": [DELIM, raw.sign(parts[:3]), *parts[:3]],
        "header_only": [DELIM, raw.sign(parts[:1]), parts[0]],
        "no_delimiter": [signature, *parts],
        "empty_frame": [b""],
    }[shape]
    raw.send(sock, frames)
    assert_dropped(raw, sock, bad_id)


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_undecodable_content(raw: RawKernel, channel: str) -> None:
    sock = raw.dealer(channel)
    bad_id, parts = raw.parts("execute_request", content=b'\xff\xfe{"code": ')
    raw.send(sock, [DELIM, raw.sign(parts), *parts])
    probe_id, frames = raw.frames("kernel_info_request")
    raw.send(sock, frames)
    got = raw.replies_until(sock, probe_id)
    assert got is not None, f"no reply after undecodable content:\n{raw.log()}"
    for msg in got[:-1]:
        if msg["parent_header"].get("msg_id") == bad_id:
            assert msg["content"].get("status") == "error", msg["content"]
    raw.assert_alive()


def test_invalid_header_json(raw: RawKernel) -> None:
    sock = raw.dealer()
    parts = [b"{not json", b"{}", b"{}", b"{}"]
    raw.send(sock, [DELIM, raw.sign(parts), *parts])
    assert_dropped(raw, sock, None)


def test_header_missing_fields(raw: RawKernel) -> None:
    sock = raw.dealer()
    parts = [json.dumps({"msg_type": "kernel_info_request"}).encode(), b"{}", b"{}", b"{}"]
    raw.send(sock, [DELIM, raw.sign(parts), *parts])
    probe_id, frames = raw.frames("kernel_info_request")
    raw.send(sock, frames)
    assert raw.replies_until(sock, probe_id) is not None
    raw.assert_alive()


@pytest.mark.parametrize("channel", ["shell", "control"])
def test_unknown_msg_type(raw: RawKernel, channel: str) -> None:
    sock = raw.dealer(channel)
    _, frames = raw.frames("frobnicate_request", {"x": 1})
    raw.send(sock, frames)
    probe_id, probe = raw.frames("kernel_info_request")
    raw.send(sock, probe)
    assert raw.replies_until(sock, probe_id) is not None, raw.log()
    raw.assert_alive()


def test_message_over_size_limit_refused(raw: RawKernel) -> None:
    # Below the limit: accepted and run.
    sock = raw.dealer()
    small = raw.request(
        sock, "execute_request", {"code": S.padded_noop(512 * 1024), "silent": False}
    )
    assert small is not None and small["content"]["status"] == "ok", "a 512 KB cell was not run"

    # Twice the limit: refused (no ok reply), and the kernel keeps serving.
    big_sock = raw.dealer()
    big_id, frames = raw.frames(
        "execute_request", {"code": S.padded_noop(2 * LIMIT_MB * 1024 * 1024), "silent": False}
    )
    raw.send(big_sock, frames)
    probe_id, probe = raw.frames("kernel_info_request")
    raw.send(big_sock, probe)
    got = raw.replies_until(big_sock, probe_id, timeout=10.0) or []
    late = raw.recv(big_sock, LATE_REPLY_WAIT)
    for msg in [*got, late]:
        if msg is not None and msg["parent_header"].get("msg_id") == big_id:
            assert msg["content"]["status"] != "ok", "a message over the size limit was executed"
    raw.assert_alive()


def _greet(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


@pytest.mark.parametrize(
    "payload",
    [
        zmtp_greeting(mechanism=b"BOGUS"),
        b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"\x00" * 52,
        b"\x00" * 64,
    ],
    ids=["unknown_mechanism", "empty_mechanism", "zeros"],
)
def test_malformed_greeting_closed(raw: RawKernel, payload: bytes) -> None:
    other = raw.dealer()
    assert raw.request(other, "kernel_info_request") is not None
    with _greet(raw.port("shell")) as conn:
        conn.sendall(payload)
        assert closed_by_peer(conn, 10.0), (
            "the kernel kept a connection with a malformed greeting open"
        )
        assert raw.request(other, "kernel_info_request") is not None, (
            "an established client was disturbed"
        )
    raw.assert_alive()


def test_http_request_on_zmq_port(raw: RawKernel) -> None:
    # libzmq reads this as a ZMTP 1.0 peer and keeps the connection: only require that
    # the kernel survives it and keeps serving others.
    other = raw.dealer()
    with _greet(raw.port("shell")) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert raw.request(other, "kernel_info_request") is not None, (
            "an established client was disturbed"
        )
    raw.assert_alive()


def _raw_zmtp_client(raw: RawKernel) -> socket.socket:
    """A raw TCP connection that completes a ZMTP 3.0 NULL handshake as a DEALER."""
    conn = _greet(raw.port("shell"))
    conn.sendall(zmtp_greeting() + zmtp_ready())
    greeting = b""
    deadline = time.monotonic() + 10
    while len(greeting) < 64 and time.monotonic() < deadline:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = conn.recv(64 - len(greeting))
        if not chunk:
            break
        greeting += chunk
    assert len(greeting) == 64 and greeting[0] == 0xFF and greeting[10] == 3, greeting
    flags, body = recv_zmtp_frame(conn, 10)
    assert flags & 0x04 and body.startswith(b"\x05READY"), (flags, body[:20])
    return conn


def _send_raw_message(conn: socket.socket, frames: list[bytes]) -> None:
    data = b"".join(zmtp_frame(f, more=i < len(frames) - 1) for i, f in enumerate(frames))
    conn.sendall(data)


def _recv_raw_message(conn: socket.socket, timeout: float) -> list[bytes]:
    frames = []
    while True:
        flags, body = recv_zmtp_frame(conn, timeout)
        if flags & 0x04:
            continue  # a command (e.g. PING)
        frames.append(body)
        if not flags & 0x01:
            return frames


def test_raw_zmtp_client_round_trip(raw: RawKernel) -> None:
    with _raw_zmtp_client(raw) as conn:
        msg_id, frames = raw.frames("kernel_info_request")
        _send_raw_message(conn, frames)
        reply = raw.session.deserialize(raw.session.feed_identities(_recv_raw_message(conn, 10))[1])
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["msg_type"] == "kernel_info_reply"


@pytest.mark.parametrize("cut", ["mid_frame", "mid_multipart"])
def test_disconnect_mid_message(raw: RawKernel, cut: str) -> None:
    other = raw.dealer()
    assert raw.request(other, "kernel_info_request") is not None
    conn = _raw_zmtp_client(raw)
    try:
        msg_id, frames = raw.frames("kernel_info_request")
        _send_raw_message(conn, frames)  # a full message first: the handshake was accepted
        reply = _recv_raw_message(conn, 10)
        assert (
            raw.session.deserialize(raw.session.feed_identities(reply)[1])["parent_header"][
                "msg_id"
            ]
            == msg_id
        )
        _, frames = raw.frames("execute_request", {"code": S.HELLO_WORLD, "silent": False})
        if cut == "mid_frame":
            conn.sendall(
                zmtp_frame(DELIM, more=True) + bytes([0x02]) + (1000).to_bytes(8, "big") + b"x" * 10
            )
        else:
            conn.sendall(b"".join(zmtp_frame(f, more=True) for f in frames[:3]))
    finally:
        conn.close()
    assert raw.request(other, "kernel_info_request") is not None, (
        "an established client was disturbed"
    )
    raw.assert_alive()


def test_many_connections_opened_and_dropped(raw: RawKernel) -> None:
    for _ in range(50):
        with _greet(raw.port("shell")) as conn:
            conn.sendall(zmtp_greeting()[:5])
    raw.assert_alive()
