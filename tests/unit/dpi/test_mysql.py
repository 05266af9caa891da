"""MySQLAnalyzer: a MariaDB 10.11 capture (a login with queries, a refused login, an
SSLRequest handed to TLS); packet edge cases; h11-style feeding; fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.mysql import MySQLAnalyzer, MySQLGreeting, MySQLLogin, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR
from tests.util.streams import Flow, flows_of

DATA = Path(__file__).resolve().parents[2] / "data" / "mysql"
FLOWS = sorted((f for f in flows_of(DATA / "mariadb.pcap") if f.chunks), key=lambda f: f.client)


def run(flow: Flow, mode: str = "whole") -> MySQLAnalyzer:
    a = MySQLAnalyzer()
    for d, data, ts in flow.chunks:
        if mode == "bytes":
            for i in range(len(data)):
                a.feed(Dir(d), data[i : i + 1], ts)
        else:
            a.feed(Dir(d), data, ts)
        if a.handoff:
            break
    return a


@pytest.mark.parametrize("mode", ["whole", "bytes"])
def test_mariadb_capture(mode: str) -> None:
    assert len(FLOWS) == 3
    assert all(f.chunks[0][0] == 1 and detect_tcp(f.chunks[0][1]) for f in FLOWS)
    ok, refused, tls = (run(f, mode) for f in FLOWS)
    r = ok.record()
    assert r["server_version"] == "10.11.19-MariaDB-0+deb12u1" and r["protocol_version"] == 10
    assert (r["user"], r["database"], r["login"]) == ("alice", "shop", "ok")
    assert r["auth_plugin"] == "mysql_native_password"
    assert r["client_attributes"]["program_name"] == "mysql"
    assert r["queries"] == [
        "CREATE TABLE t (x INT)",
        "INSERT INTO t VALUES (7)",
        "SELECT x FROM t",
        "DROP TABLE t",
    ]
    assert r["commands"] == {"query": 4, "quit": 1}
    r = refused.record()
    assert r["login"] == "failed" and r["error"]["code"] == 1045
    assert r["error"]["sql_state"] == "28000"
    assert tls.handoff == "TLS" and tls.record()["ssl"] and tls.record()["user"] is None


def test_events() -> None:
    def events(flow: Flow) -> list[object]:
        a = MySQLAnalyzer()
        return [e for d, data, ts in flow.chunks for e in a.feed(Dir(d), data, ts)]

    ok, refused, tls = FLOWS
    greeting, login = events(ok)
    assert isinstance(greeting, MySQLGreeting) and greeting.connection_id == 4
    assert greeting.server_version == "10.11.19-MariaDB-0+deb12u1"
    assert isinstance(login, MySQLLogin)
    assert login == MySQLLogin(login.ts, "alice", "shop", True, None)
    logins = [e for e in events(refused) if isinstance(e, MySQLLogin)]
    assert [(e.user, e.ok, e.error_code) for e in logins] == [("alice", False, 1045)]
    assert [type(e) for e in events(tls)] == [MySQLGreeting]


def test_engine_hands_sslrequest_to_tls() -> None:
    recs = [r for r in analyze(DATA / "mariadb.pcap") if r.get("app")]
    assert sorted(r["app"]["protocol"] for r in recs) == ["MySQL", "MySQL", "TLS"]
    for rec in recs:
        assert not list(VALIDATOR.iter_errors(rec))


GREETING = bytes.fromhex(
    "4a0000000a382e302e333600080000003a2b1c0d4e5f6071"
    "00ffff2d0200ffdf15000000000000000000001a2b3c4d5e6f7a1b2c3d4e5f00"
    "63616368696e675f736861325f70617373776f726400"
)


def packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def test_mysql8_greeting_and_big_rows() -> None:
    assert detect_tcp(GREETING)
    a = MySQLAnalyzer()
    a.feed(Dir.SERVER, GREETING, 0.0)
    caps = (0x200 | 0x8000 | 0x80000 | 0x200000).to_bytes(4, "little")
    resp = caps + b"\x00\x00\x00\x01" + b"\x21" + b"\x00" * 23 + b"bob\x00" + b"\x00"
    a.feed(Dir.CLIENT, packet(1, resp + b"caching_sha2_password\x00"), 0.0)
    a.feed(Dir.SERVER, packet(2, b"\x01\x03") + packet(3, b"\x00\x00\x00\x02\x00\x00\x00"), 0.0)
    a.feed(Dir.CLIENT, packet(0, b"\x03SELECT  blob\n FROM t"), 0.0)
    row = packet(1, b"\xfc" + b"r" * 40_000)
    for i in range(0, len(row), 4096):
        a.feed(Dir.SERVER, row[i : i + 4096], 0.0)
        assert len(a._sides[1].buf) <= 17 * 1024
    a.feed(Dir.SERVER, packet(2, b"\xfe\x00\x00\x02\x00"), 0.0)
    a.feed(Dir.CLIENT, packet(0, b"\x0e"), 0.0)
    r = a.record()
    assert (r["server_version"], r["connection_id"]) == ("8.0.36", 8)
    assert (r["user"], r["login"], r["auth_plugin"]) == ("bob", "ok", "caching_sha2_password")
    assert r["queries"] == ["SELECT blob FROM t"] and r["commands"] == {"query": 1, "ping": 1}


@pytest.mark.parametrize(
    "direction,data",
    [
        (Dir.SERVER, packet(0, b"\x09" + b"5.0\x00" + b"\x00" * 40)),  # protocol 9
        (Dir.SERVER, packet(0, b"\x0a5.7.1")),  # version not terminated
        (Dir.CLIENT, packet(1, b"\x00\x00\x00\x00")),  # client before the greeting
    ],
)
def test_malformed(direction: Dir, data: bytes) -> None:
    with pytest.raises(MalformedError):
        MySQLAnalyzer().feed(direction, data, 0.0)


def test_detection() -> None:
    assert not detect_tcp(b"SSH-2.0-OpenSSH_9.2\r\n")
    assert not detect_tcp(b"220 mail.example.com ESMTP ready\r\n")
    assert not detect_tcp(packet(0, b"\x0axyz\x00" + b"\x00" * 40))  # version not numeric
    assert not detect_tcp(GREETING + b"extra")  # longer than its length field says


STREAMS = [(f.data(1), f.data(0)) for f in FLOWS]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_only_malformed_escapes(data: st.DataObject) -> None:
    server, client = data.draw(st.sampled_from(STREAMS))
    raw = [bytearray(server), bytearray(client)]
    for _ in range(data.draw(st.integers(1, 8))):
        side = raw[data.draw(st.integers(0, 1))]
        side[data.draw(st.integers(0, len(side) - 1))] = data.draw(st.integers(0, 255))
    raw[1] += data.draw(st.binary(max_size=32))
    a = MySQLAnalyzer()
    try:
        a.feed(Dir.SERVER, bytes(raw[0][:90]), 0.0)
        a.feed(Dir.CLIENT, bytes(raw[1]), 0.0)
        a.feed(Dir.SERVER, bytes(raw[0][90:]), 0.0)
    except MalformedError:
        pass
    a.record()
    a.summary()
