"""sock_diag: recorded netlink replies decoded offline, then the backend against this host."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.attribution.sockdiag import (
    _HDR,
    TCP_LISTEN,
    SockDiagResolver,
    build_exact,
    build_request,
    decode_message,
    iter_replies,
)
from netwatch.attribution.table import norm_addr
from netwatch.errors import MalformedError


def recorded_datagrams(data_dir: Path) -> list[bytes]:
    blob = (data_dir / "sockdiag_replies.bin").read_bytes()
    out = []
    off = 0
    while off < len(blob):
        (n,) = struct.unpack_from("=I", blob, off)
        out.append(blob[off + 4 : off + 4 + n])
        off += 4 + n
    return out


def test_request_layout() -> None:
    req = build_request(socket.AF_INET6, socket.IPPROTO_UDP, 0xFFFFFFFF, 7)
    assert len(req) == 16 + 56
    length, mtype, flags, seq, _ = struct.unpack_from("=IHHII", req)
    assert (length, mtype, flags, seq) == (72, 20, 0x301, 7)
    assert req[16:20] == bytes([socket.AF_INET6, socket.IPPROTO_UDP, 0, 0])
    assert struct.unpack_from("=I", req, 20) == (0xFFFFFFFF,)


def test_recorded_replies_decode_to_the_recorded_sockets(
    data_dir: Path, recorded: dict[str, Any]
) -> None:
    by_inode = {s["inode"]: (name, s) for name, s in recorded["sockets"].items()}
    found: dict[str, tuple[int, str, int, str, int]] = {}
    datagrams = recorded_datagrams(data_dir)
    assert len(datagrams) == 4  # tcp4, tcp6, udp4, udp6
    for dgram in datagrams:
        offsets = iter_replies(dgram)
        assert offsets[-1] == (-1, 0)  # DONE
        for off, _length in offsets[:-1]:
            fam, state, lip, lport, rip, rport, inode = decode_message(dgram[off + _HDR :])
            name, truth = by_inode[inode]
            assert truth["local"] == [lip, lport] or (
                norm_addr(lip) == norm_addr(truth["local"][0]) and lport == truth["local"][1]
            )
            assert [rip, rport] == truth["remote"]
            assert (state == TCP_LISTEN) == truth["listening"]
            assert fam == (socket.AF_INET6 if ":" in truth["local"][0] else socket.AF_INET)
            found[name] = (fam, lip, lport, rip, rport)
    assert set(found) == set(recorded["sockets"])  # every recorded socket, nothing else


def test_nlmsg_error_becomes_oserror() -> None:
    err = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -13) + bytes(16)
    with pytest.raises(OSError) as exc:
        iter_replies(err)
    assert exc.value.errno == 13


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("=IHHII", 8, 20, 0, 1, 0),  # length below the header
        struct.pack("=IHHII", 500, 20, 0, 1, 0) + bytes(80),  # runs past the datagram
        struct.pack("=IHHII", 18, 2, 0, 1, 0) + b"\0\0",  # error without its code
    ],
)
def test_damaged_datagrams_raise_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        iter_replies(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_iter_replies(data: bytes) -> None:
    try:
        for off, _ in iter_replies(data):
            if off >= 0:
                decode_message(data[off + _HDR :])
    except (MalformedError, OSError):
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=72, max_size=72))
def test_fuzz_decode_message(body: bytes) -> None:
    fam, _state, lip, lport, rip, rport, _inode = decode_message(body)
    assert 0 <= lport < 65536 and 0 <= rport < 65536
    assert (":" in lip) == (fam == socket.AF_INET6) or fam not in (2, 10) or lip == rip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backend_finds_this_process_sockets() -> None:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    clock = Clock()
    r = SockDiagResolver(full_every=5.0, clock=clock)
    r.start()
    assert r.full_dumps == 1
    try:
        # Opened after the full dump: unknown until a lookup misses and the next
        # refresh asks the kernel about exactly those tuples.
        cli = socket.create_connection(lst.getsockname())
        acc, _ = lst.accept()
        udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        udp.sendto(b"x", ("::1", 9))
        udp_port = udp.getsockname()[1]
        asks = [
            ("tcp", cli.getsockname(), cli.getpeername(), "exact"),
            ("tcp", acc.getsockname(), acc.getpeername(), "exact"),
            ("tcp", lst.getsockname(), ("127.0.0.1", 1), "listener"),
            ("udp", ("::1", udp_port), ("::1", 9), "wildcard"),
        ]
        # the listener existed at the full dump: it names the accepted connection until
        # the exact socket is known; the client and the UDP socket are misses
        before = [r.lookup(p, lo, re) for p, lo, re, _ in asks]
        assert [b[1].match if b else None for b in before] == [None, "listener", "listener", None]
        clock.now += 1
        r.refresh()
        assert r.full_dumps == 1 and r.queries == 4
        me = os.getpid()
        for proto, local, remote, match in asks:
            got = r.lookup(proto, local, remote)
            assert got is not None, (proto, local, remote)
            assert got[0].pid == me and got[1].match == match and got[1].source == "sockdiag"
        # a tuple the kernel does not know is asked once, then not again for a while
        assert r.lookup("tcp", ("127.0.0.1", 1), ("127.0.0.1", 2)) is None
        r.refresh()
        assert r.lookup("tcp", ("127.0.0.1", 1), ("127.0.0.1", 2)) is None
        r.refresh()
        assert r.queries == 5
        client_tuple = (cli.getsockname(), cli.getpeername())
        cli.close()
        acc.close()
        udp.close()
        clock.now += 5  # the next full dump drops closed sockets
        r.refresh()
        assert r.full_dumps == 2
        assert r.lookup("tcp", *client_tuple) is None
        assert r.lookup("udp", ("::1", udp_port), ("::1", 9)) is None
    finally:
        r.close()
        lst.close()
    r.close()  # idempotent


def test_exact_query_layout() -> None:
    tcp = build_exact("tcp", ("10.0.0.1", 4000), ("10.0.0.2", 80), 3)
    udp = build_exact("udp", ("10.0.0.1", 4000), ("10.0.0.2", 53), 3)
    assert len(tcp) == len(udp) == 72
    assert struct.unpack_from("=IHHI", tcp) == (72, 20, 1, 3)  # no NLM_F_DUMP
    # TCP: id.src is the local end; UDP: id.src is the remote end (as the kernel reads it)
    assert struct.unpack_from("!HH", tcp, 24) == (4000, 80)
    assert tcp[28:32] == bytes([10, 0, 0, 1]) and tcp[44:48] == bytes([10, 0, 0, 2])
    assert struct.unpack_from("!HH", udp, 24) == (53, 4000)
    assert tcp[-8:] == b"\xff" * 8  # INET_DIAG_NOCOOKIE
    v6 = build_exact("tcp", ("::ffff:10.0.0.1", 1), ("fd00::2", 2), 1)
    assert v6[16] == socket.AF_INET6
