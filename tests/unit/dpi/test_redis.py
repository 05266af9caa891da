"""RedisAnalyzer: a redis-server 7 capture (AUTH refused and accepted, SELECT, CLIENT
SETNAME, HELLO 3, INFO, inline commands); RESP edge cases; h11-style feeding; fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.redis import RedisAnalyzer, RedisAuth, detect_tcp
from netwatch.errors import MalformedError
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR
from tests.util.streams import Flow, flows_of

DATA = Path(__file__).resolve().parents[2] / "data" / "redis"
FLOWS = sorted((f for f in flows_of(DATA / "redis7.pcap") if f.chunks), key=lambda f: f.client)


def run(flow: Flow, mode: str = "whole") -> RedisAnalyzer:
    a = RedisAnalyzer()
    for d, data, ts in flow.chunks:
        if mode == "bytes":
            for i in range(len(data)):
                a.feed(Dir(d), data[i : i + 1], ts)
        else:
            a.feed(Dir(d), data, ts)
    return a


@pytest.mark.parametrize("mode", ["whole", "bytes"])
def test_redis_server_capture(mode: str) -> None:
    assert len(FLOWS) == 6 and all(detect_tcp(f.chunks[0][1]) for f in FLOWS)
    refused, select, hello, setcmd, info, inline = (run(f, mode).record() for f in FLOWS)
    assert refused["auth"] == "failed" and refused["errors"] == 2
    assert refused["first_error"].startswith("WRONGPASS")
    assert select["client_name"] == "netwatch-test" and select["db"] == 2
    assert select["username"] == "default" and select["auth"] == "ok"
    assert hello["resp_version"] == 3 and hello["server_version"] == "7.0.15"
    assert setcmd["commands"] == ["AUTH", "SET"] and setcmd["replies"] == 2
    assert info["server_version"] == "7.0.15"
    assert inline["commands"] == ["AUTH", "PING", "GET", "QUIT"] and inline["auth"] == "ok"


def test_auth_events() -> None:
    def events(i: int) -> list[object]:
        a = RedisAnalyzer()
        return [e for d, data, ts in FLOWS[i].chunks for e in a.feed(Dir(d), data, ts)]

    assert [(e.username, e.ok) for e in events(0) if isinstance(e, RedisAuth)] == [
        ("default", False)
    ]
    assert [(e.username, e.ok) for e in events(5) if isinstance(e, RedisAuth)] == [
        ("default", True)
    ]


def test_engine_records_match_schema() -> None:
    recs = [r for r in analyze(DATA / "redis7.pcap") if r.get("app")]
    assert [r["app"]["protocol"] for r in recs] == ["Redis"] * 6
    for rec in recs:
        assert not list(VALIDATOR.iter_errors(rec))


def cmd(*args: bytes) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def test_big_bulk_strings_are_skipped() -> None:
    a = RedisAnalyzer()
    value = b"v" * 300_000
    data = cmd(b"SET", b"k", value) + cmd(b"GET", b"k")
    for i in range(0, len(data), 7000):
        a.feed(Dir.CLIENT, data[i : i + 7000], 0.0)
        assert len(a._client.buf) < 70_000
    reply = b"+OK\r\n$%d\r\n%s\r\n" % (len(value), value)
    for i in range(0, len(reply), 5000):
        a.feed(Dir.SERVER, reply[i : i + 5000], 0.0)
    r = a.record()
    assert r["commands"] == ["SET", "GET"] and r["replies"] == 2 and r["errors"] == 0


def test_pipelined_resp3_replies_pair_in_order() -> None:
    a = RedisAnalyzer()
    a.feed(Dir.CLIENT, cmd(b"HELLO", b"3", b"AUTH", b"app", b"pw") + cmd(b"GET", b"x"), 0.0)
    hello = b"%2\r\n+server\r\n+redis\r\n+version\r\n$5\r\n7.2.4\r\n"
    a.feed(Dir.SERVER, hello + b">2\r\n+invalidate\r\n_\r\n" + b"_\r\n", 0.0)
    r = a.record()
    assert (r["username"], r["auth"], r["server_version"]) == ("app", "ok", "7.2.4")
    assert r["replies"] == 2  # the push message is not a reply


def test_subscribe_stops_pairing() -> None:
    a = RedisAnalyzer()
    a.feed(Dir.CLIENT, cmd(b"SUBSCRIBE", b"news", b"alerts"), 0.0)
    msg = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    a.feed(Dir.SERVER, msg * 3 + b"-ERR x\r\n", 0.0)
    r = a.record()
    assert r["channels"] == ["news", "alerts"] and r["auth"] is None and r["errors"] == 1


@pytest.mark.parametrize(
    "direction,data",
    [
        (Dir.SERVER, b"?what\r\n"),
        (Dir.SERVER, b"$abc\r\n"),
        (Dir.SERVER, b"$3\r\nabcXY"),
        (Dir.SERVER, b"*1\r\n" * 20),
        (Dir.CLIENT, b"*1\r\n" + b"x" * 70_000),
    ],
)
def test_malformed(direction: Dir, data: bytes) -> None:
    with pytest.raises(MalformedError):
        RedisAnalyzer().feed(direction, data, 0.0)


def test_detection() -> None:
    assert detect_tcp(cmd(b"PING")) and detect_tcp(b"PING\r\n") and detect_tcp(b"info server\r\n")
    assert not detect_tcp(b"GET / HTTP/1.1\r\n\r\n")
    assert not detect_tcp(b"USER anonymous\r\n")  # not a Redis inline command we claim
    assert not detect_tcp(b"hello there\r\n") and detect_tcp(b"HELLO 3\r\n")
    assert detect_tcp(b"AUTH s3cret\r\nPING\r\n") and detect_tcp(b"auth app s3cret\r\n")
    for other in (b"AUTH TLS\r\n", b"AUTH PLAIN AGFsaWNlAHB3\r\n", b"AUTH LOGIN\r\n"):
        assert not detect_tcp(other)
    assert not detect_tcp(b"*0\r\n")
    assert not detect_tcp(b"* OK IMAP4rev1 ready\r\n")


STREAMS = [(f.data(0), f.data(1)) for f in FLOWS]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_only_malformed_escapes(data: st.DataObject) -> None:
    client, server = data.draw(st.sampled_from(STREAMS))
    direction = data.draw(st.sampled_from([Dir.CLIENT, Dir.SERVER]))
    raw = bytearray(client if direction == Dir.CLIENT else server)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw += data.draw(st.binary(max_size=32))
    a = RedisAnalyzer()
    try:
        a.feed(direction, bytes(raw), 0.0)
    except MalformedError:
        pass
    a.record()
    a.summary()
