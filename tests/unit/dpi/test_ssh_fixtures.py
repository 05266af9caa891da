"""SSHAnalyzer on a recorded OpenSSH login session (tests/data/ssh)."""

from __future__ import annotations

from netwatch.dpi.base import Dir
from netwatch.dpi.ssh import SSHAnalyzer, detect_tcp
from tests.unit.dpi.test_dns_fixtures import load
from tests.util.corpus import REPO

CHUNKS = load(REPO / "tests" / "data" / "ssh" / "openssh_login_session.bin")


def analyze(chunks: list[tuple[Dir, bytes]]) -> SSHAnalyzer:
    a = SSHAnalyzer()
    for d, data in chunks:
        a.feed(d, data, 0.0)
    return a


def test_login_session() -> None:
    assert detect_tcp(CHUNKS[0][1])
    a = analyze(CHUNKS)
    r = a.record()
    assert r["client_version"].startswith("SSH-2.0-OpenSSH_")
    assert r["server_algorithms"]["ciphers_c2s"] == ["aes256-ctr", "aes128-ctr"]
    assert r["cipher"] == "aes128-ctr" and "cipher_s2c" not in r
    assert r["host_key"] == "ssh-ed25519"
    assert "kex-strict-c-v00@openssh.com" in r["client_algorithms"]["kex"]
    assert r["kex"] != "kex-strict-c-v00@openssh.com"  # pseudo-algorithms never match
    assert r["state"] == "ESTABLISHED" and a.finished


def test_cleartext_part_bytewise() -> None:
    whole = analyze(CHUNKS).record()
    fine = analyze(
        [(d, data[i : i + 1]) for d, data in CHUNKS[:8] for i in range(len(data))]
    ).record()
    for key in (
        "client_version",
        "server_version",
        "kex",
        "cipher",
        "mac",
        "hassh",
        "hassh_server",
    ):
        assert fine[key] == whole[key]
