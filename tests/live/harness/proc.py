"""Process and readiness helpers shared by the servers: run Python code inside a namespace
(setns(2) on one thread), wait until a TCP port or a DNS server answers, stop a process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from tests.live.harness.netns import HarnessError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def in_netns(ns: str | None, fn: Callable[[], T]) -> T:
    """Call ``fn`` on a fresh thread that has joined network namespace ``ns``.

    setns(CLONE_NEWNET) changes only the calling thread, so sockets ``fn`` creates live in
    ``ns`` while the rest of the process stays where it was. ``None`` runs ``fn`` here.
    """
    if ns is None:
        return fn()
    box: dict[str, object] = {}

    def body() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
            box["error"] = exc

    thread = threading.Thread(target=body, name=f"netns-{ns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _tcp_once(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _dns_query(qname: str) -> bytes:
    header = struct.pack("!HHHHHH", 0x4E57, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in qname.split(".")) + b"\0"
    return header + labels + struct.pack("!HH", 1, 1)


def _dns_once(host: str, port: int, qname: str) -> bool:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.sendto(_dns_query(qname), (host, port))
            reply = sock.recv(4096)
        except OSError:
            return False
    return len(reply) >= 12 and reply[:2] == b"\x4e\x57"


def wait_until(
    check: Callable[[], bool], what: str, timeout: float, proc: subprocess.Popen[bytes] | None
) -> None:
    """Poll ``check`` until it is true; fail early if ``proc`` died, or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise HarnessError(f"{what}: process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise HarnessError(f"{what}: not answering after {timeout:.0f} s")
        time.sleep(0.05)


def wait_tcp(
    ns: str | None,
    host: str,
    port: int,
    timeout: float = 10.0,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait until a TCP connect to ``host:port`` from namespace ``ns`` succeeds."""
    wait_until(lambda: in_netns(ns, lambda: _tcp_once(host, port)), f"tcp {host}:{port}",
               timeout, proc)  # fmt: skip


def wait_dns(
    ns: str | None,
    host: str,
    qname: str,
    port: int = 53,
    timeout: float = 10.0,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait until a DNS server at ``host:port`` answers a query for ``qname``."""
    wait_until(lambda: in_netns(ns, lambda: _dns_once(host, port, qname)),
               f"dns {host}:{port}", timeout, proc)  # fmt: skip


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM, wait ``grace`` seconds, then SIGKILL; never raises for a dead process."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=grace)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
