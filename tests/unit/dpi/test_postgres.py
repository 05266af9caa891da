"""PostgresAnalyzer: a PostgreSQL 15 capture (SCRAM login and a query, a wrong password,
SSLRequest answered S and handed to TLS, a missing database); protocol edge cases;
h11-style feeding; fuzzing."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.postgres import PostgresAnalyzer, PostgresLogin, PostgresStartup, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR
from tests.util.streams import Flow, flows_of

DATA = Path(__file__).resolve().parents[2] / "data" / "postgres"
FLOWS = sorted(
    (f for f in flows_of(DATA / "postgresql15.pcap") if f.chunks), key=lambda f: f.client
)


def run(flow: Flow, mode: str = "whole") -> PostgresAnalyzer:
    a = PostgresAnalyzer()
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
def test_postgresql_capture(mode: str) -> None:
    assert len(FLOWS) == 4 and all(detect_tcp(f.chunks[0][1]) for f in FLOWS)
    ok, wrong, tls, nodb = (run(f, mode) for f in FLOWS)
    r = ok.record()
    assert (r["user"], r["database"], r["application_name"]) == ("postgres", "postgres", "nwtest")
    assert r["auth_method"] == "sasl" and r["sasl_mechanisms"] == ["SCRAM-SHA-256"]
    assert r["auth_ok"] and r["server_version"].startswith("15.")
    assert r["queries"] == ["SELECT 42 AS answer"] and r["error"] is None
    r = wrong.record()
    assert not r["auth_ok"] and r["error"]["code"] == "28P01"
    assert tls.handoff == "TLS" and tls.record()["ssl_response"] == "S"
    assert tls.record()["ssl_request"] and tls.record()["user"] is None
    r = nodb.record()
    assert r["database"] == "nodb" and r["error"]["code"] == "3D000"


def test_events() -> None:
    def events(flow: Flow) -> list[object]:
        a = PostgresAnalyzer()
        return [e for d, data, ts in flow.chunks for e in a.feed(Dir(d), data, ts)]

    ok, wrong, tls, nodb = FLOWS
    start, login = events(ok)
    assert isinstance(start, PostgresStartup) and isinstance(login, PostgresLogin)
    assert (start.user, start.database, start.application_name) == (
        "postgres",
        "postgres",
        "nwtest",
    )
    assert (login.ok, login.method, login.error_code) == (True, "sasl", None)
    assert [(e.ok, e.error_code) for e in events(wrong) if isinstance(e, PostgresLogin)] == [
        (False, "28P01")
    ]
    assert events(tls) == []
    assert [e.ok for e in events(nodb) if isinstance(e, PostgresLogin)] == [True]


def test_trust_login() -> None:
    a = PostgresAnalyzer()
    a.feed(Dir.CLIENT, startup(user="u"), 0.0)
    (login,) = a.feed(Dir.SERVER, msg(b"R", struct.pack("!I", 0)), 1.0)
    assert login == PostgresLogin(1.0, True, "trust", None)
    assert a.record()["auth_method"] == "trust"


def test_engine_hands_sslrequest_to_tls() -> None:
    recs = [r for r in analyze(DATA / "postgresql15.pcap") if r.get("app")]
    assert sorted(r["app"]["protocol"] for r in recs) == ["PostgreSQL"] * 3 + ["TLS"]
    tls = next(r for r in recs if r["app"]["protocol"] == "TLS")
    assert tls["app"]["postgresql"]["ssl_response"] == "S"
    assert tls["app"]["tls"]["version"] == "TLSv1.3"
    for rec in recs:
        assert not list(VALIDATOR.iter_errors(rec))


def startup(**params: str) -> bytes:
    body = struct.pack("!I", 196608)
    for k, v in params.items():
        body += k.encode() + b"\x00" + v.encode() + b"\x00"
    body += b"\x00"
    return struct.pack("!I", len(body) + 4) + body


def msg(t: bytes, body: bytes) -> bytes:
    return t + struct.pack("!I", len(body) + 4) + body


def test_ssl_refused_then_startup_in_clear() -> None:
    a = PostgresAnalyzer()
    a.feed(Dir.CLIENT, b"\x00\x00\x00\x08\x04\xd2\x16\x2f", 0.0)
    a.feed(Dir.SERVER, b"N", 0.0)
    a.feed(Dir.CLIENT, startup(user="u", database="d", client_encoding="UTF8"), 0.0)
    a.feed(Dir.SERVER, msg(b"R", struct.pack("!I", 5) + b"salt"), 0.0)
    a.feed(Dir.CLIENT, msg(b"p", b"md5abc\x00"), 0.0)
    a.feed(Dir.SERVER, msg(b"R", struct.pack("!I", 0)), 0.0)
    r = a.record()
    assert a.handoff is None and r["ssl_response"] == "N" and r["auth_method"] == "md5"
    assert (r["user"], r["database"], r["parameters"]) == ("u", "d", {"client_encoding": "UTF8"})
    assert r["auth_ok"]


def test_extended_query_and_long_query_is_cut() -> None:
    a = PostgresAnalyzer()
    a.feed(Dir.CLIENT, startup(user="u"), 0.0)
    a.feed(Dir.CLIENT, msg(b"P", b"s1\x00SELECT $1\x00\x00\x00"), 0.0)
    long_query = b"SELECT '" + b"x" * 100_000 + b"'\x00"
    q = msg(b"Q", long_query)
    for i in range(0, len(q), 1000):
        a.feed(Dir.CLIENT, q[i : i + 1000], 0.0)
        assert len(a._sides[0].buf) <= 17 * 1024
    a.feed(Dir.CLIENT, msg(b"X", b""), 0.0)
    r = a.record()
    assert r["database"] == "u" and r["query_count"] == 2
    assert r["queries"][0] == "SELECT $1" and len(r["queries"][1]) == 256


def test_cancel_request_finishes() -> None:
    a = PostgresAnalyzer()
    a.feed(Dir.CLIENT, b"\x00\x00\x00\x10\x04\xd2\x16\x2e" + b"\x00" * 8, 0.0)
    assert a.finished and a.record()["cancel_request"]


@pytest.mark.parametrize(
    "direction,data",
    [
        (Dir.CLIENT, b"\x00\x00\x00\x04\x00\x03\x00\x00"),  # length below 8
        (Dir.CLIENT, b"\x00\x00\x00\x08\x00\x09\x00\x00"),  # unknown code
        (Dir.CLIENT, b"\xff\xff\xff\xff\x00\x03\x00\x00"),
    ],
)
def test_malformed(direction: Dir, data: bytes) -> None:
    with pytest.raises(MalformedError):
        PostgresAnalyzer().feed(direction, data, 0.0)


def test_malformed_typed_message() -> None:
    a = PostgresAnalyzer()
    a.feed(Dir.CLIENT, startup(user="u"), 0.0)
    with pytest.raises(MalformedError):
        a.feed(Dir.SERVER, b"R\x00\x00\x00\x02", 0.0)


def test_detection() -> None:
    assert detect_tcp(startup(user="alice", database="db"))
    assert detect_tcp(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")
    assert not detect_tcp(b"\x00\x00\x00\x08\x04\xd2\x16\x2f\x00")
    assert not detect_tcp(b"GET / HTTP/1.1\r\n\r\n")
    assert not detect_tcp(struct.pack("!II", 12, 196608) + b"\x01\x02\x03\x04")


STREAMS = [(f.data(0), f.data(1)) for f in FLOWS]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_only_malformed_escapes(data: st.DataObject) -> None:
    client, server = data.draw(st.sampled_from(STREAMS))
    raw = [bytearray(client), bytearray(server)]
    for _ in range(data.draw(st.integers(1, 8))):
        side = raw[data.draw(st.integers(0, 1))]
        side[data.draw(st.integers(0, len(side) - 1))] = data.draw(st.integers(0, 255))
    raw[1] += data.draw(st.binary(max_size=32))
    a = PostgresAnalyzer()
    try:
        a.feed(Dir.CLIENT, bytes(raw[0][:64]), 0.0)
        a.feed(Dir.SERVER, bytes(raw[1]), 0.0)
        a.feed(Dir.CLIENT, bytes(raw[0][64:]), 0.0)
    except MalformedError:
        pass
    a.record()
    a.summary()
