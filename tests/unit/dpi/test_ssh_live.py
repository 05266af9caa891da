"""SSHAnalyzer on real traffic: OpenSSH client against OpenSSH sshd on loopback, through
the recording relay; a successful login must end ESTABLISHED, a refused one must not."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.ssh import SSHAnalyzer, detect_tcp
from tests.unit.dpi.test_http_live import Relay, free_port, wait_port

pytestmark = pytest.mark.live

SSHD_CONFIG = """
Port {port}
ListenAddress 127.0.0.1
HostKey {root}/host_ed25519
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile {root}/authorized_keys
Ciphers aes256-ctr,aes128-ctr
"""


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(binary).exists() or shutil.which("ssh") is None or os.geteuid() != 0:
        pytest.skip("needs root, sshd and ssh")
    root = tmp_path_factory.mktemp("sshd")
    keygen(root / "host_ed25519")
    keygen(root / "client")
    keygen(root / "stranger")
    (root / "authorized_keys").write_text((root / "client.pub").read_text())
    port = free_port()
    (root / "sshd_config").write_text(SSHD_CONFIG.format(port=port, root=root))
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    proc = subprocess.Popen(
        [binary, "-D", "-e", "-f", str(root / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port)
        yield port, root
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def ssh(port: int, key: Path, command: str) -> int:
    return subprocess.run(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(key),
            "-p",
            str(port),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
            "root@127.0.0.1",
            command,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=20,
        check=False,
    ).returncode


def record(chunks: list[tuple[Dir, bytes]]) -> SSHAnalyzer:
    a = SSHAnalyzer()
    for d, data in chunks:
        a.feed(d, data, 0.0)
    return a


def test_successful_login_is_established(sshd: tuple[int, Path]) -> None:
    port, root = sshd
    relay = Relay(port)
    try:
        assert ssh(relay.port, root / "client", "head -c 3000 /dev/zero | base64") == 0
    finally:
        relay.close()
    (chunks,) = relay.conns
    assert detect_tcp(chunks[0][1])
    a = record(chunks)
    r = a.record()
    assert r["client_software"].startswith("OpenSSH_")
    assert r["server_software"] == r["client_software"]
    # sshd prefers aes256-ctr, but RFC 4253 §7.1 lets the client's order win
    assert r["server_algorithms"]["ciphers_c2s"] == ["aes256-ctr", "aes128-ctr"]
    assert r["cipher"] == "aes128-ctr"
    assert r["kex"] in r["server_algorithms"]["kex"]
    assert r["host_key"] == "ssh-ed25519"
    keygen_l = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(root / "host_ed25519.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert r["host_key_fingerprint"] == keygen_l[1]  # "256 SHA256:... comment (ED25519)"
    assert r["hassh"] and r["hassh_server"]
    assert r["state"] == "ESTABLISHED" and a.finished


def test_refused_login_stays_in_authentication(sshd: tuple[int, Path]) -> None:
    port, root = sshd
    relay = Relay(port)
    try:
        assert ssh(relay.port, root / "stranger", "true") != 0
    finally:
        relay.close()
    (chunks,) = relay.conns
    a = record(chunks)
    assert a.record()["state"] == "AUTHENTICATION" and not a.finished
