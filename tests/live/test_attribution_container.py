"""A process moved into a cgroup named the way docker names its containers: every Linux
backend must report the container, and the eBPF hooks attached to the cgroup v2 root must
still see the process (cgroup programs are inherited by descendant cgroups)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwatch.attribution import BackendUnavailable
from netwatch.attribution.choose import FACTORIES
from netwatch.attribution.ebpf.prereq import cgroup2_root
from netwatch.model.process import ContainerInfo

pytestmark = pytest.mark.live

CLIENT = """
import socket, sys
sys.stdin.readline()  # moved into the cgroup first
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("ok", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def docker_cgroup() -> Iterator[tuple[Path, str]]:
    """``<cgroup2>/nwtest-XXXX/docker-<64 hex>.scope``, removed afterwards."""
    root = cgroup2_root()
    if os.geteuid() != 0 or root is None or not os.access(root, os.W_OK):
        pytest.skip("needs root and a writable cgroup v2 hierarchy")
    cid = secrets.token_hex(32)
    parent = Path(root) / f"nwtest-{secrets.token_hex(3)}"
    scope = parent / f"docker-{cid}.scope"
    scope.mkdir(parents=True)
    try:
        yield scope, cid
    finally:
        for path in (scope, parent):
            for _ in range(50):  # the cgroup empties a moment after its last task dies
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


@pytest.mark.parametrize("backend", ["ebpf", "sockdiag", "procfs", "psutil"])
def test_container_of_a_process_in_a_docker_cgroup(
    backend: str, docker_cgroup: tuple[Path, str]
) -> None:
    scope, cid = docker_cgroup
    resolver = FACTORIES[backend]()
    try:
        resolver.start()
    except BackendUnavailable as exc:
        pytest.skip(exc.reason)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        (scope / "cgroup.procs").write_text(f"{proc.pid}\n")
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == b"ok"
        conn, peer = listener.accept()
        with conn:
            resolver.refresh()
            local, remote = peer, ("127.0.0.1", port)  # the client's end
            hit = resolver.lookup("tcp", local, remote)
            if hit is None:  # a backend may resolve misses on the next refresh
                resolver.refresh()
                hit = resolver.lookup("tcp", local, remote)
            assert hit is not None
            info, how = hit
            assert info.pid == proc.pid and how.match == "exact" and how.source == backend
            assert info.container == ContainerInfo("docker", cid)
            assert info.ancestors[0][0] == os.getpid()
    finally:
        proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        listener.close()
        resolver.close()
