"""Bounded helpers shared by the Python tests: jupyter_client cells and raw-socket kernels.

Every wait here has a deadline; nothing blocks without one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

from snippets import KERNEL_NAME

STARTUP_TIMEOUT = 60.0
REPLY_TIMEOUT = 30.0
DELIM = b"<IDS|MSG>"


def llmspell_bin() -> str:
    """The absolute path of the llmspell binary under test (from LLMSPELL_BIN)."""
    return str(Path(os.environ.get("LLMSPELL_BIN", "")).resolve())


# ---------------------------------------------------------------- jupyter_client


def start_kernel(
    kernel_name: str = KERNEL_NAME, **km_kwargs: Any
) -> tuple[KernelManager, BlockingKernelClient]:
    """Starts the llmspell kernel through a kernelspec; returns a ready client."""
    km = KernelManager(kernel_name=kernel_name, **km_kwargs)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
    except Exception:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


def stop_kernel(km: KernelManager, kc: BlockingKernelClient) -> None:
    """Stops channels and the kernel; kills it if a polite shutdown does not end it."""
    try:
        kc.stop_channels()
    finally:
        if km.has_kernel:
            try:
                km.shutdown_kernel(now=False)
            except Exception:
                km.shutdown_kernel(now=True)


@dataclass
class Cell:
    """What one execute_request produced."""

    reply: dict[str, Any]
    iopub: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [m for m in self.iopub if m["msg_type"] == msg_type]

    def stream(self, name: str) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == name
        )


def shell_reply(
    kc: BlockingKernelClient, msg_id: str, timeout: float = REPLY_TIMEOUT
) -> dict[str, Any]:
    """The shell reply to msg_id (other replies are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no shell reply to {msg_id} within {timeout}s")
        try:
            msg = kc.get_shell_msg(timeout=left)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def control_reply(
    kc: BlockingKernelClient, msg_id: str, timeout: float = REPLY_TIMEOUT
) -> dict[str, Any]:
    """The control reply to msg_id (other replies are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no control reply to {msg_id} within {timeout}s")
        try:
            msg = kc.control_channel.get_msg(timeout=left)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def iopub_until_idle(
    kc: BlockingKernelClient, msg_id: str, timeout: float = REPLY_TIMEOUT
) -> list[dict[str, Any]]:
    """The iopub messages of msg_id, up to and excluding its idle status."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(
                f"no idle status for {msg_id} within {timeout}s; got {[m['msg_type'] for m in out]}"
            )
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out
        out.append(msg)


def wait_iopub(
    kc: BlockingKernelClient,
    msg_id: str,
    msg_type: str,
    timeout: float = REPLY_TIMEOUT,
    **content: Any,
) -> dict[str, Any]:
    """Waits for an iopub message of msg_id with the given type and content fields."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {msg_type} {content} for {msg_id} within {timeout}s")
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except Empty:
            continue
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == msg_type
            and all(msg["content"].get(k) == v for k, v in content.items())
        ):
            return msg


def execute(
    kc: BlockingKernelClient, code: str, timeout: float = REPLY_TIMEOUT, **kwargs: Any
) -> Cell:
    """Runs one cell and collects its reply and its iopub messages up to idle."""
    msg_id = kc.execute(code, **kwargs)
    reply = shell_reply(kc, msg_id, timeout)
    return Cell(reply, iopub_until_idle(kc, msg_id, timeout))


def wait_exit(pid_alive: Any, timeout: float) -> bool:
    """Polls pid_alive() until it is false or timeout passes; true if it ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive():
            return True
        time.sleep(0.05)
    return not pid_alive()


# ---------------------------------------------------------------- raw sockets


class RawKernel:
    """An llmspell kernel started by hand (`kernel start -f FILE ...`) and driven by raw zmq."""

    def __init__(self, binary: str, workdir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.key = uuid.uuid4().hex.encode()
        self.conn_file, self.info = write_connection_file(
            str(workdir / "kernel.json"), ip="127.0.0.1", key=self.key, transport="tcp"
        )
        self.session = Session(key=self.key, signature_scheme="hmac-sha256", username="test")
        self.ctx = zmq.Context()
        self.sockets: list[zmq.Socket] = []
        self.log_path = workdir / "kernel.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [binary, "kernel", "start", "-f", self.conn_file, *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def port(self, channel: str) -> int:
        return int(self.info[f"{channel}_port"])

    def dealer(self, channel: str = "shell") -> zmq.Socket:
        """A fresh DEALER connected to channel (closed by stop)."""
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(f"tcp://127.0.0.1:{self.port(channel)}")
        self.sockets.append(sock)
        return sock

    def frames(
        self, msg_type: str, content: dict[str, Any] | None = None
    ) -> tuple[str, list[bytes]]:
        """A signed message as wire frames (delimiter first); returns (msg_id, frames)."""
        msg = self.session.msg(msg_type, content or {})
        return msg["header"]["msg_id"], self.session.serialize(msg)

    def parts(self, msg_type: str, content: bytes | None = None) -> tuple[str, list[bytes]]:
        """(msg_id, [header, parent, metadata, content]) unsigned JSON parts for tampering."""
        msg = self.session.msg(msg_type, {})
        header = json.dumps(msg["header"], default=str).encode()
        body = content if content is not None else b"{}"
        return msg["header"]["msg_id"], [header, b"{}", b"{}", body]

    def sign(self, parts: list[bytes]) -> bytes:
        return self.session.sign(parts)

    def send(self, sock: zmq.Socket, frames: list[bytes]) -> None:
        sock.send_multipart(frames, copy=True)

    def recv(self, sock: zmq.Socket, timeout: float) -> dict[str, Any] | None:
        """One deserialized message, or None if none comes within timeout."""
        if not sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        frames = sock.recv_multipart()
        _, rest = self.session.feed_identities(frames)
        return self.session.deserialize(rest)

    def replies_until(
        self, sock: zmq.Socket, msg_id: str, timeout: float = REPLY_TIMEOUT
    ) -> list[dict[str, Any]] | None:
        """Every message received on sock up to and including the reply to msg_id,
        or None if that reply does not come within timeout."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            msg = self.recv(sock, left)
            if msg is None:
                return None
            got.append(msg)
            if msg["parent_header"].get("msg_id") == msg_id:
                return got

    def request(
        self,
        sock: zmq.Socket,
        msg_type: str,
        content: dict[str, Any] | None = None,
        timeout: float = REPLY_TIMEOUT,
    ) -> dict[str, Any] | None:
        """Sends a signed request; its reply, or None."""
        msg_id, frames = self.frames(msg_type, content)
        self.send(sock, frames)
        got = self.replies_until(sock, msg_id, timeout)
        return got[-1] if got else None

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Waits for a kernel_info_reply on shell; raises with the kernel's log if none."""
        sock = self.dealer("shell")
        msg_id, frames = self.frames("kernel_info_request")
        self.send(sock, frames)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kernel exited {self.proc.returncode} at start:\n{self.log()}")
            got = self.replies_until(sock, msg_id, 0.2)
            if got:
                return
        raise TimeoutError(f"no kernel_info_reply within {timeout}s:\n{self.log()}")

    def assert_alive(self, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """Asserts the process runs and answers kernel_info on a fresh shell connection."""
        assert self.proc.poll() is None, f"kernel exited {self.proc.returncode}:\n{self.log()}"
        reply = self.request(self.dealer("shell"), "kernel_info_request", timeout=timeout)
        assert reply is not None, (
            f"kernel gave no kernel_info_reply within {timeout}s:\n{self.log()}"
        )
        assert reply["msg_type"] == "kernel_info_reply"
        assert self.proc.poll() is None, f"kernel exited {self.proc.returncode}:\n{self.log()}"
        return reply

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Asks for shutdown on control, then ends the process by pid (TERM, then KILL)."""
        try:
            if self.proc.poll() is None:
                self.request(
                    self.dealer("control"), "shutdown_request", {"restart": False}, timeout=2.0
                )
                try:
                    self.proc.wait(timeout=3.0)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGTERM)
                    try:
                        self.proc.wait(timeout=3.0)
                    except subprocess.TimeoutExpired:
                        os.kill(self.proc.pid, signal.SIGKILL)
                        self.proc.wait(timeout=5.0)
        finally:
            for sock in self.sockets:
                sock.close(linger=0)
            self.ctx.term()
            self._log.close()


# ---------------------------------------------------------------- raw ZMTP 3.0 over TCP


def zmtp_greeting(mechanism: bytes = b"NULL") -> bytes:
    """A 64-byte ZMTP 3.0 greeting from a client (as-server 0)."""
    return (
        b"\xff"
        + b"\x00" * 8
        + b"\x7f"
        + b"\x03\x00"
        + mechanism.ljust(20, b"\x00")
        + b"\x00"
        + b"\x00" * 31
    )


def zmtp_frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    flags = (0x01 if more else 0) | (0x04 if command else 0)
    if len(body) > 255:
        return bytes([flags | 0x02]) + len(body).to_bytes(8, "big") + body
    return bytes([flags, len(body)]) + body


def zmtp_ready(socket_type: bytes = b"DEALER") -> bytes:
    name = b"Socket-Type"
    body = (
        b"\x05READY" + bytes([len(name)]) + name + len(socket_type).to_bytes(4, "big") + socket_type
    )
    return zmtp_frame(body, command=True)


def recv_exact(sock: socket.socket, n: int, timeout: float) -> bytes:
    """n bytes, or fewer if the peer closed; bounded by timeout."""
    buf = b""
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"got {len(buf)} of {n} bytes")
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return buf
        buf += chunk
    return buf


def recv_zmtp_frame(sock: socket.socket, timeout: float) -> tuple[int, bytes]:
    """(flags, body) of one ZMTP frame."""
    head = recv_exact(sock, 2, timeout)
    if len(head) < 2:
        raise ConnectionError("peer closed")
    flags = head[0]
    if flags & 0x02:
        size = int.from_bytes(bytes([head[1]]) + recv_exact(sock, 7, timeout), "big")
    else:
        size = head[1]
    return flags, recv_exact(sock, size, timeout)


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """Reads and discards until the peer closes (True) or timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
