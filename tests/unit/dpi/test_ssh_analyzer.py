"""SSHAnalyzer: version exchange, binary packets, KEXINIT, negotiation, HASSH, states,
malformed input (lying lengths), chunking (whole / byte at a time) and fuzzing."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Analyzer, Dir
from netwatch.dpi.ssh import ESTABLISHED_RULES, SSHAnalyzer, detect_tcp, negotiate, parse_kexinit
from netwatch.errors import MalformedError

C, S = Dir.CLIENT, Dir.SERVER

CLIENT_LISTS = {
    "kex": "curve25519-sha256,diffie-hellman-group14-sha256,ext-info-c",
    "host_key": "ssh-ed25519,rsa-sha2-512",
    "ciphers_c2s": "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr",
    "ciphers_s2c": "aes128-ctr,chacha20-poly1305@openssh.com",
    "macs_c2s": "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
    "macs_s2c": "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
    "compression_c2s": "none,zlib@openssh.com",
    "compression_s2c": "none,zlib@openssh.com",
    "languages_c2s": "",
    "languages_s2c": "",
}
SERVER_LISTS = {
    "kex": "diffie-hellman-group14-sha256,curve25519-sha256,kex-strict-s-v00@openssh.com",
    "host_key": "rsa-sha2-512,ssh-ed25519",
    "ciphers_c2s": "aes128-ctr,chacha20-poly1305@openssh.com",
    "ciphers_s2c": "chacha20-poly1305@openssh.com,aes128-ctr",
    "macs_c2s": "hmac-sha2-256",
    "macs_s2c": "hmac-sha2-256,hmac-sha2-256-etm@openssh.com",
    "compression_c2s": "none",
    "compression_s2c": "none",
    "languages_c2s": "",
    "languages_s2c": "",
}


def packet(payload: bytes, block: int = 8) -> bytes:
    """RFC 4253 §6: uint32 length, byte padding length, payload, random padding."""
    pad = block - (5 + len(payload)) % block
    if pad < 4:
        pad += block
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + b"\x00" * pad


def kexinit(lists: dict[str, str]) -> bytes:
    body = b"\x14" + bytes(range(16))
    for key in CLIENT_LISTS:
        raw = lists[key].encode()
        body += struct.pack("!I", len(raw)) + raw
    return packet(body + b"\x00" + b"\x00\x00\x00\x00")


NEWKEYS = packet(b"\x15")


def string(b: bytes) -> bytes:
    return struct.pack("!I", len(b)) + b


HOST_KEY = string(b"ssh-ed25519") + string(bytes(range(32)))

CLIENT = (
    b"SSH-2.0-OpenSSH_9.7 comment here\r\n"
    + kexinit(CLIENT_LISTS)
    + packet(b"\x1e" + b"E" * 36)  # KEX_ECDH_INIT
    + NEWKEYS
    + b"\x8a\x11\x97" * 20  # ciphertext
)
SERVER = (
    b"Welcome, but not yet SSH\r\n"
    b"SSH-2.0-dropbear_2022.83\r\n"
    + kexinit(SERVER_LISTS)
    + packet(b"\x1f" + string(HOST_KEY) + b"R" * 150)  # KEX_ECDH_REPLY: K_S, Q_S, sig
    + NEWKEYS
)


def run(*steps: tuple[Dir, bytes]) -> SSHAnalyzer:
    a = SSHAnalyzer()
    for d, data in steps:
        a.feed(d, data, 0.0)
    return a


def test_is_an_analyzer() -> None:
    assert isinstance(SSHAnalyzer(), Analyzer)


def test_full_handshake_whole_and_bytewise() -> None:
    whole = run((C, CLIENT), (S, SERVER))
    bytewise = run(
        *[(d, data[i : i + 1]) for d, data in ((C, CLIENT), (S, SERVER)) for i in range(len(data))]
    )
    assert whole.record() == bytewise.record()
    r = whole.record()
    assert r["client_version"] == "SSH-2.0-OpenSSH_9.7 comment here"
    assert r["server_version"] == "SSH-2.0-dropbear_2022.83"
    assert (r["client_software"], r["server_software"]) == ("OpenSSH_9.7", "dropbear_2022.83")
    assert r["server_pre_banner_lines"] == 1
    assert r["version"] == 2
    # RFC 4253 §7.1: the client's first choice the server also lists
    assert r["kex"] == "curve25519-sha256"
    assert r["host_key"] == "ssh-ed25519"
    assert r["cipher"] == "chacha20-poly1305@openssh.com"
    assert r["cipher_s2c"] == "aes128-ctr"
    assert r["mac"] == "hmac-sha2-256" and r["mac_s2c"] == "hmac-sha2-256-etm@openssh.com"
    assert r["compression"] == "none" and "compression_s2c" not in r
    assert r["client_algorithms"]["ciphers_s2c"] == ["aes128-ctr", "chacha20-poly1305@openssh.com"]
    assert "languages_c2s" not in r["client_algorithms"]
    want = ";".join(CLIENT_LISTS[k] for k in ("kex", "ciphers_c2s", "macs_c2s", "compression_c2s"))
    assert r["hassh_algorithms"] == want
    assert r["hassh"] == hashlib.md5(want.encode()).hexdigest()
    want_s = ";".join(
        SERVER_LISTS[k] for k in ("kex", "ciphers_s2c", "macs_s2c", "compression_s2c")
    )
    assert r["hassh_server_algorithms"] == want_s
    assert r["hassh_server"] == hashlib.md5(want_s.encode()).hexdigest()
    assert whole.summary() == "SSH OpenSSH_9.7 → dropbear_2022.83"


def test_host_key_fingerprint_from_the_ecdh_reply() -> None:
    want = "SHA256:" + base64.b64encode(hashlib.sha256(HOST_KEY).digest()).decode().rstrip("=")
    assert run((C, CLIENT), (S, SERVER)).record()["host_key_fingerprint"] == want
    assert run((S, SERVER)).record()["host_key_fingerprint"] is None  # kex unknown: 31 unsure


def test_group_exchange_skips_the_group_message() -> None:
    gex = {**CLIENT_LISTS, "kex": "diffie-hellman-group-exchange-sha256"}
    gex_s = {**SERVER_LISTS, "kex": "diffie-hellman-group-exchange-sha256"}
    group = packet(b"\x1f" + string(b"\x00\xff" * 64) + string(b"\x02"))  # 31 = GEX group (p, g)
    reply = packet(b"\x21" + string(HOST_KEY) + b"f" * 40)  # 33 = GEX reply
    a = run(
        (C, b"SSH-2.0-c\r\n" + kexinit(gex)),
        (S, b"SSH-2.0-s\r\n" + kexinit(gex_s) + group + reply + NEWKEYS),
    )
    want = "SHA256:" + base64.b64encode(hashlib.sha256(HOST_KEY).digest()).decode().rstrip("=")
    assert a.record()["host_key_fingerprint"] == want


def test_lying_host_key_length_is_malformed() -> None:
    with pytest.raises(MalformedError, match="host key"):
        run(
            (C, CLIENT),
            (S, b"SSH-2.0-s\r\n" + kexinit(SERVER_LISTS) + packet(b"\x1f\x00\x01\x00\x00abc")),
        )


def test_states() -> None:
    a = SSHAnalyzer()
    assert a.app_state == "SSH_BANNER"
    a.feed(C, CLIENT[:35], 0.0)
    assert a.state == "BANNER"
    a.feed(C, CLIENT[35:], 0.0)
    assert a.state == "KEYEXCHANGE"
    a.feed(S, SERVER, 0.0)
    assert a.state == "AUTHENTICATION" and not a.finished
    for _ in range(3):
        a.feed(S, b"\x00" * 100, 0.0)
    assert a.state == "AUTHENTICATION"
    a.feed(S, b"\x00" * ESTABLISHED_RULES["server_bytes"], 0.0)
    assert a.state == "ESTABLISHED" and a.app_state == "SSH_ESTABLISHED" and a.finished


def test_established_by_segment_count() -> None:
    a = run((C, CLIENT), (S, SERVER))
    for _ in range(ESTABLISHED_RULES["segments_each"]):
        assert a.state == "AUTHENTICATION"
        a.feed(C, b"\x01" * 60, 0.0)
        a.feed(S, b"\x02" * 60, 0.0)
    assert a.state == "ESTABLISHED"


def test_established_by_an_upload() -> None:
    """scp/sftp upload: the client streams ciphertext, the server answers with bare ACKs."""
    a = run((C, CLIENT), (S, SERVER))
    a.feed(C, b"\x01" * 1500, 0.0)  # authentication-sized: still authenticating
    assert a.state == "AUTHENTICATION"
    for _ in range(ESTABLISHED_RULES["client_bytes"] // 1448 + 1):
        a.feed(C, b"\x01" * 1448, 0.0)
    assert a.state == "ESTABLISHED" and a.finished


def test_banner_split_and_bare_lf() -> None:
    a = run((C, b"SSH-2.0-Go"), (C, b"\n"), (S, b"SSH-1.99-Cisco-1.25\n"))
    r = a.record()
    assert (r["client_version"], r["server_version"], r["version"]) == (
        "SSH-2.0-Go",
        "SSH-1.99-Cisco-1.25",
        2,
    )


def test_ssh1_is_recorded_then_finished() -> None:
    a = run((C, b"SSH-1.5-1.2.27\r\n\x00\x00\x01\x04binary"), (S, b"SSH-1.5-1.2.27\r\n"))
    assert a.record()["version"] == 1 and a.finished and a.state == "BANNER"


def test_no_common_algorithm_negotiates_none() -> None:
    assert negotiate(["a", "b"], ["c"]) is None
    assert negotiate(["a", "b"], ["b", "a"]) == "a"


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([(C, b"hello\r\n")], "before the version"),
        ([(C, b"SSH-2.0-\r\n")], "bad SSH version"),
        ([(C, b"SSH-" + b"x" * 2000)], "1024"),
        ([(S, b"x" * 100 + b"\n") for _ in range(700)], "before the version"),
        # packet length lies: 4 GiB
        ([(C, b"SSH-2.0-x\r\n\xff\xff\xff\xff\x04")], "packet length"),
        # padding as long as the packet
        ([(C, b"SSH-2.0-x\r\n\x00\x00\x00\x08\x08" + b"\x00" * 8)], "padding"),
        # a KEXINIT whose first name-list claims 1000 bytes
        (
            [(C, b"SSH-2.0-x\r\n" + packet(b"\x14" + bytes(16) + b"\x00\x00\x03\xe8abc"))],
            "name-list",
        ),
        ([(C, b"SSH-2.0-x\r\n" + packet(b"\x14" + bytes(10)))], "truncated"),
        ([(C, b"SSH-2.0-x\r\n" + kexinit(CLIENT_LISTS) * 2)], "second KEXINIT"),
        ([(C, b"SSH-2.0-x\r\n\x00\x00\x00\x05\x04\x00\x00\x00\x00")], "without a message"),
    ],
)
def test_malformed(steps: list[tuple[Dir, bytes]], reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        run(*steps)


def test_kexinit_rejects_non_ascii() -> None:
    body = b"\x14" + bytes(16) + b"\x00\x00\x00\x02\xc3\xa9"
    with pytest.raises(MalformedError, match="ASCII"):
        parse_kexinit(body)


def test_trailing_ciphertext_never_errors_and_is_counted() -> None:
    a = run((C, CLIENT + b"\xff" * 50_000), (S, SERVER + b"\xee" * 10))
    a.feed(C, b"\x00\x00\x00\x00", 0.0)
    assert a.record()["hassh"] is not None


def test_gap_before_newkeys_loses_the_direction() -> None:
    a = run((C, b"SSH-2.0-x\r\n"))
    a.gap(C, 100)
    a.feed(C, b"whatever", 0.0)
    assert not a.finished
    a.gap(S, 1)
    assert a.finished


@pytest.mark.parametrize(
    ("data", "hit"),
    [
        (b"SSH-2.0-OpenSSH_9.7\r\n", True),
        (b"SSH-1.99-Cisco-1.25\r\n", True),
        (b"SSH-2.", True),
        (b"SSH-", True),
        (b"SSH-x.0-", False),
        (b"SSH-2.0", True),
        (b"SSHD", False),
        (b"GET / HTTP/1.1\r\n", False),
        (b"", False),
    ],
)
def test_detect(data: bytes, hit: bool) -> None:
    assert detect_tcp(data) is hit


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=80)), max_size=10))
def test_fuzz_random_only_raises_malformed(steps: list[tuple[Dir, bytes]]) -> None:
    try:
        a = run(*steps)
    except MalformedError:
        return
    a.record()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_handshake_only_raises_malformed(data: st.DataObject) -> None:
    client = bytearray(CLIENT)
    for _ in range(data.draw(st.integers(1, 5))):
        client[data.draw(st.integers(0, len(client) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, 64))
    try:
        a = run(*[(C, bytes(client[i : i + cut])) for i in range(0, len(client), cut)], (S, SERVER))
    except MalformedError:
        return
    a.record()
    a.summary()
