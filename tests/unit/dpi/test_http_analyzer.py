"""HTTPAnalyzer: HTTP/1.x framing (h11-style: whole, byte at a time, trailing bytes),
pipelining, bodies, switches, gaps, caps, detection and fuzzing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Analyzer, Dir
from netwatch.dpi.http import HTTPAnalyzer, detect_tcp
from netwatch.dpi.http.txn import MAX_TXNS
from netwatch.errors import MalformedError

C, S = Dir.CLIENT, Dir.SERVER

REQ = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\n\r\n"
RESP = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\n"
    b"Content-Length: 11\r\n\r\nhello world"
)


def run(*steps: tuple[Dir, bytes]) -> HTTPAnalyzer:
    a = HTTPAnalyzer()
    for direction, data in steps:
        a.feed(direction, data, 0.0)
    return a


def bytewise(*steps: tuple[Dir, bytes]) -> HTTPAnalyzer:
    return run(*[(d, data[i : i + 1]) for d, data in steps for i in range(len(data))])


def reqs(a: HTTPAnalyzer) -> list[dict[str, Any]]:
    return list(a.record()["requests"])


def test_is_an_analyzer() -> None:
    assert isinstance(HTTPAnalyzer(), Analyzer)


def test_simple_exchange_whole_and_byte_at_a_time() -> None:
    whole = run((C, REQ), (S, RESP))
    assert whole.record() == bytewise((C, REQ), (S, RESP)).record()
    (r,) = reqs(whole)
    assert r == {
        "method": "GET",
        "host": "example.com",
        "path": "/index.html",
        "version": "HTTP/1.1",
        "user_agent": "curl/8.5.0",
        "referrer": None,
        "content_type": "text/html",
        "content_encoding": None,
        "request_content_type": None,
        "status": 200,
        "response_version": "HTTP/1.1",
        "status_msg": "OK",
        "server": "nginx",
        "request_body_bytes": 0,
        "response_body_bytes": 11,
    }
    assert whole.record()["version"] == "HTTP/1.1"
    assert whole.summary() == "HTTP GET example.com/index.html"
    assert not whole.finished


PIPELINE = (
    b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
    b"GET /c HTTP/1.1\r\nHost: h\r\n\r\n"
    b"GET /d HTTP/1.1\r\nHost: h\r\n\r\n"
)
PIPELINE_RESP = (
    # chunked with an extension and a trailer field
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    # HEAD: Content-Length describes the body that is *not* sent
    b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\n\r\n"
)


def test_pipelining_chunked_head_304_204() -> None:
    whole = run((C, PIPELINE), (S, PIPELINE_RESP))
    assert whole.record() == bytewise((C, PIPELINE), (S, PIPELINE_RESP)).record()
    rows = [(r["method"], r["path"], r["status"], r["response_body_bytes"]) for r in reqs(whole)]
    assert rows == [
        ("GET", "/a", 200, 11),
        ("HEAD", "/b", 200, 0),
        ("GET", "/c", 304, 0),
        ("GET", "/d", 204, 0),
    ]
    # and the parser is back at a message boundary: one more exchange works
    whole.feed(C, REQ, 1.0)
    whole.feed(S, RESP, 1.0)
    assert reqs(whole)[-1]["response_body_bytes"] == 11


def test_request_bodies_length_and_chunked() -> None:
    post = (
        b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
        b"Content-Length: 4\r\n\r\n{}\r\n"
    )
    chunked = (
        b"PUT /f HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n"
    )
    ok = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    a = run((C, post + chunked), (S, ok + ok))
    assert [(r["method"], r["request_body_bytes"]) for r in reqs(a)] == [("POST", 4), ("PUT", 13)]
    assert reqs(a)[0]["request_content_type"] == "application/json"


def test_response_without_length_reads_to_close() -> None:
    a = run((C, REQ), (S, b"HTTP/1.0 200 OK\r\n\r\n"), (S, b"x" * 5000), (S, b"y" * 10))
    assert reqs(a)[0]["response_body_bytes"] == 5010


def test_interim_100_continue() -> None:
    req = b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    a = run((C, req), (S, b"HTTP/1.1 100 Continue\r\n\r\n"), (C, b"abc"), (S, RESP))
    (r,) = reqs(a)
    assert (r["status"], r["request_body_bytes"], r["response_body_bytes"]) == (200, 3, 11)


def test_connect_tunnel_hands_off_to_tls() -> None:
    hello = b"\x16\x03\x01\x00\x05hello"
    a = run(
        (C, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + hello),
        (S, b"HTTP/1.1 200 Connection established\r\n\r\n"),
    )
    (r,) = reqs(a)
    assert (r["method"], r["path"], r["status"]) == ("CONNECT", "example.com:443", 200)
    assert a.record()["tunnel"] is True
    assert a.handoff == "TLS" and a.finished
    assert a.tunnel_bytes(C) == hello
    assert a.summary() == "HTTP CONNECT example.com:443"


def test_refused_connect_resumes_http() -> None:
    a = run(
        (C, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + REQ),
        (S, b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n" + RESP),
    )
    assert [(r["method"], r["status"]) for r in reqs(a)] == [("CONNECT", 407), ("GET", 200)]
    assert a.handoff is None and not a.finished


def test_websocket_upgrade_becomes_a_tunnel() -> None:
    req = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    a = run(
        (C, req),
        (S, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
    )
    a.feed(C, b"\x81\x85\x00\x00\x00\x00hello", 1.0)
    assert reqs(a)[0]["status"] == 101
    assert a.finished and a.record()["tunnel"] is True


def test_request_line_with_spaces_in_target_and_bad_field_lines() -> None:
    # zeek/http-connect-smtp: "CONNECT host:25 / HTTP/1.0" and a header line without ":"
    a = run((C, b"CONNECT mail.example:25 / HTTP/1.0\r\nMozilla 4.0\r\n\r\n"))
    assert reqs(a)[0]["path"] == "mail.example:25 /"


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([(C, b"GET / HTTP/9\r\n\r\n")], "version"),
        ([(C, b"\x00\x01\x02 / HTTP/1.1\r\n\r\n")], "request line"),
        ([(C, REQ), (S, b"HTTP/1.1 2000 OK\r\n\r\n")], "status line"),
        ([(C, REQ), (S, b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n")], "conflicting"),
        ([(C, REQ), (S, b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")], "Content-Length"),
        (
            [(C, REQ), (S, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")],
            "chunk size",
        ),
        # the chunk size lies: 5 announced, 3 sent, then the terminator
        (
            [
                (C, REQ),
                (S, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc\r\n0\r\n\r\n"),
            ],
            "CRLF",
        ),
        ([(C, b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 70000)], "64 KiB"),
        ([(C, b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")], "chunked"),
        # trailing garbage after a complete exchange
        ([(C, REQ), (S, RESP + b"garbage\r\n\r\n")], "status line"),
        ([(C, REQ + b"\x16\x03\x01 junk\r\n\r\n")], "request line"),
    ],
)
def test_malformed(steps: list[tuple[Dir, bytes]], reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        run(*steps)


def test_gap_in_body_is_counted_and_elsewhere_loses_the_direction() -> None:
    a = run((C, REQ), (S, RESP[:-6]))
    a.gap(S, 6)
    a.feed(C, REQ, 1.0)
    a.feed(S, RESP, 1.0)
    assert [r["response_body_bytes"] for r in reqs(a)] == [11, 11]
    b = run((C, b"GET / HT"))
    b.gap(C, 100)
    b.feed(C, b"anything at all", 1.0)  # ignored, no error
    b.gap(S, 1)
    assert b.finished


def test_transaction_cap() -> None:
    a = run(*[(C, REQ)] * (MAX_TXNS + 3), *[(S, RESP)] * (MAX_TXNS + 3))
    rec = a.record()
    assert len(rec["requests"]) == MAX_TXNS and rec["requests_dropped"] == 3


def test_empty_lines_between_messages_are_ignored() -> None:
    # some clients send a stray CRLF after a POST body (RFC 9112 §2.2)
    post = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab\r\n\r\n"
    a = run((C, post + REQ), (S, b"\r\n" + RESP + RESP))
    assert [(r["method"], r["status"]) for r in reqs(a)] == [("POST", 200), ("GET", 200)]
    assert bytewise((C, post + REQ), (S, RESP + RESP)).record() == a.record()


def test_response_without_request_is_recorded() -> None:
    a = run((S, b"HTTP/1.1 100 Continue\r\n\r\n" + RESP))
    (r,) = reqs(a)
    assert (r["method"], r["status"], r["response_body_bytes"]) == (None, 200, 11)
    assert a.summary() == "HTTP 200"


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",
        b"GET /very/long/path/without/the/rest",
        b"POST http://proxy.example/x HTTP/1.0\r\n",
        b"PROPFIND /dav/ HTTP/1.1\r\n",
        b"BREW /pot HTTP/1.1\r\n",  # unknown method, but a whole HTTP/1.1 line
        b"CONNECT example.com:443 HTTP/1.1\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"PRI * HT",
        b"\r\nGET / HTTP/1.1\r\n",
    ],
)
def test_detect_positive(data: bytes) -> None:
    assert detect_tcp(data)


@pytest.mark.parametrize(
    "data",
    [
        b"OPTIONS rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 1\r\n",
        b"OPTIONS sip:alice@example.com SIP/2.0\r\n",
        b"INVITE sip:bob@example.com SIP/2.0\r\n",
        b"SSH-2.0-OpenSSH_9.7\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"220 mail.example ESMTP\r\n",
        b"GET",
        b"GETTER / HTTP/1.1",
        b"",
    ],
)
def test_detect_negative(data: bytes) -> None:
    assert not detect_tcp(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([C, S]), st.binary(max_size=64)), max_size=10))
def test_fuzz_random_chunks_only_raise_malformed(steps: list[tuple[Dir, bytes]]) -> None:
    try:
        run(*steps)
    except MalformedError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_pipeline_only_raises_malformed(data: st.DataObject) -> None:
    client, server = bytearray(PIPELINE), bytearray(PIPELINE_RESP)
    for buf in (client, server):
        for _ in range(data.draw(st.integers(0, 4))):
            buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, 40))
    try:
        a = run(
            *[(C, bytes(client[i : i + cut])) for i in range(0, len(client), cut)],
            *[(S, bytes(server[i : i + cut])) for i in range(0, len(server), cut)],
        )
    except MalformedError:
        return
    a.record()
    a.summary()
