"""Cleartext HTTP/2 in HTTPAnalyzer: prior knowledge, Upgrade: h2c, HPACK state across
blocks, CONTINUATION, padding, DATA counting, server push, malformed frames. Frames are
built with hyperframe and header blocks with hpack's encoder."""

from __future__ import annotations

from typing import Any

import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PushPromiseFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from netwatch.dpi.base import Dir
from netwatch.dpi.http import HTTPAnalyzer
from netwatch.dpi.http.h2 import PREFACE, H2Reader
from netwatch.errors import MalformedError

C, S = Dir.CLIENT, Dir.SERVER


def headers(
    enc: hpack.Encoder, stream: int, fields: list[tuple[str, str]], *, end_stream: bool = True
) -> bytes:
    f = HeadersFrame(stream)
    f.data = enc.encode(fields)
    f.flags.add("END_HEADERS")
    if end_stream:
        f.flags.add("END_STREAM")
    return bytes(f.serialize())


def data(stream: int, payload: bytes, *, pad: int = 0) -> bytes:
    f = DataFrame(stream)
    f.data = payload
    if pad:
        f.flags.add("PADDED")
        f.pad_length = pad
    return bytes(f.serialize())


def settings() -> bytes:
    return bytes(SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100}).serialize())


def get(path: str, authority: str = "example.com") -> list[tuple[str, str]]:
    return [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", authority),
        (":path", path),
        ("user-agent", "t/1"),
    ]


def prior_knowledge_exchange() -> tuple[bytes, bytes]:
    ce, se = hpack.Encoder(), hpack.Encoder()
    client = PREFACE + settings() + headers(ce, 1, get("/a")) + headers(ce, 3, get("/b"))
    post = [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "example.com"),
        (":path", "/up"),
    ]
    client += headers(ce, 5, post, end_stream=False) + data(5, b"x" * 100, pad=7)
    server = settings() + bytes(WindowUpdateFrame(0, window_increment=1000).serialize())
    server += headers(se, 1, [(":status", "200"), ("content-type", "text/plain")], end_stream=False)
    server += data(1, b"A" * 300) + data(1, b"", pad=0)
    server += headers(se, 3, [(":status", "404")])  # dynamic-table state carried over
    server += headers(se, 5, [(":status", "201")])
    return client, server


def rows(a: HTTPAnalyzer) -> list[tuple[Any, ...]]:
    return [
        (
            r["method"],
            r["host"],
            r["path"],
            r["status"],
            r["request_body_bytes"],
            r["response_body_bytes"],
        )
        for r in a.record()["requests"]
    ]


WANT = [
    ("GET", "example.com", "/a", 200, 0, 300),
    ("GET", "example.com", "/b", 404, 0, 0),
    ("POST", "example.com", "/up", 201, 100, 0),
]


def test_prior_knowledge_whole_and_byte_at_a_time() -> None:
    client, server = prior_knowledge_exchange()
    whole = HTTPAnalyzer()
    whole.feed(C, client, 0.0)
    whole.feed(S, server, 0.0)
    assert whole.record()["version"] == "h2c"
    assert rows(whole) == WANT
    slow = HTTPAnalyzer()
    for i in range(max(len(client), len(server))):
        slow.feed(C, client[i : i + 1], 0.0)
        slow.feed(S, server[i : i + 1], 0.0)
    assert slow.record() == whole.record()
    assert whole.summary() == "HTTP POST example.com/up"


def test_server_bytes_before_the_client_preface() -> None:
    client, server = prior_knowledge_exchange()
    a = HTTPAnalyzer()
    a.feed(S, server, 0.0)  # fed first: buffered as HTTP/1 until the preface is seen
    a.feed(C, client, 0.0)
    assert rows(a) == WANT


def test_h2_start_for_alpn_handoff() -> None:
    client, server = prior_knowledge_exchange()
    a = HTTPAnalyzer(start="h2")
    a.feed(C, client, 0.0)
    a.feed(S, server, 0.0)
    assert a.record()["version"] == "h2" and rows(a) == WANT


def test_upgrade_h2c_stream_one_is_the_http1_request() -> None:
    se, ce = hpack.Encoder(), hpack.Encoder()
    req = (
        b"GET /up HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
    )
    client = req + PREFACE + settings() + headers(ce, 3, get("/next"))
    server = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    server += settings() + headers(se, 1, [(":status", "200")], end_stream=False) + data(1, b"hi")
    server += headers(se, 3, [(":status", "200")])
    a = HTTPAnalyzer()
    a.feed(C, client, 0.0)
    a.feed(S, server, 0.0)
    assert a.record()["version"] == "h2c"
    got = [
        (r["method"], r["path"], r["version"], r["status"], r["response_body_bytes"])
        for r in a.record()["requests"]
    ]
    assert got == [("GET", "/up", "HTTP/1.1", 200, 2), ("GET", "/next", "HTTP/2", 200, 0)]


def test_continuation_and_push_promise() -> None:
    ce, se = hpack.Encoder(), hpack.Encoder()
    block = ce.encode([*get("/big"), ("x-filler", "y" * 200)])
    h = HeadersFrame(1)
    h.data = block[:50]
    h.flags.add("END_STREAM")
    c1 = ContinuationFrame(1)
    c1.data = block[50:120]
    c2 = ContinuationFrame(1)
    c2.data = block[120:]
    c2.flags.add("END_HEADERS")
    client = PREFACE + bytes(h.serialize()) + bytes(c1.serialize()) + bytes(c2.serialize())
    pp = PushPromiseFrame(1, promised_stream_id=2)
    pp.data = se.encode(get("/style.css"))
    pp.flags.add("END_HEADERS")
    server = (
        bytes(pp.serialize())
        + headers(se, 1, [(":status", "200")])
        + headers(se, 2, [(":status", "200")], end_stream=False)
        + data(2, b"c" * 42)
    )
    a = HTTPAnalyzer()
    a.feed(C, client, 0.0)
    a.feed(S, server, 0.0)
    got = [(r["path"], r["status"], r["response_body_bytes"]) for r in a.record()["requests"]]
    assert got == [("/big", 200, 0), ("/style.css", 200, 42)]


def frame_bytes(f: Frame) -> bytes:
    return bytes(f.serialize())


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (PREFACE[:10] + b"XXXXXXXXXXXXXX", "preface"),
        # HEADERS without END_HEADERS, then a DATA frame: the block is interrupted
        (PREFACE + frame_bytes(HeadersFrame(1, data=b"\x82")) + data(1, b"x"), "interrupted"),
        (
            PREFACE + frame_bytes(ContinuationFrame(1, data=b"\x82", flags=["END_HEADERS"])),
            "CONTINUATION",
        ),
        # an HPACK index far past the tables
        (PREFACE + frame_bytes(HeadersFrame(1, data=b"\xff\x7f", flags=["END_HEADERS"])), "HPACK"),
        # DATA whose pad length exceeds the frame
        (PREFACE + b"\x00\x00\x02\x00\x08\x00\x00\x00\x01\x09x", "padding"),
        # a frame length that lies: 320 KiB of header block
        (PREFACE + b"\x05\x00\x00\x01\x04\x00\x00\x00\x01", "too large"),
    ],
)
def test_malformed_h2(stream: bytes, reason: str) -> None:
    with pytest.raises(MalformedError, match=reason):
        H2Reader(expect_preface=True).feed(stream)


def test_unknown_frame_types_are_skipped() -> None:
    ext = b"\x00\x00\x03\xfa\x00\x00\x00\x00\x00abc"  # type 0xfa, 3 bytes
    ce = hpack.Encoder()
    events = H2Reader(expect_preface=True).feed(PREFACE + ext + headers(ce, 1, get("/")))
    assert [type(e).__name__ for e in events] == ["H2Headers"]


def test_refused_upgrade_then_preface_from_a_paused_client() -> None:
    """A paused client whose buffered bytes turn out to be an HTTP/2 preface once the
    server refuses the upgrade: both sides switch, nothing is parsed twice."""
    ce, se = hpack.Encoder(), hpack.Encoder()
    req = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"
    a = HTTPAnalyzer()
    a.feed(C, req + PREFACE + headers(ce, 1, get("/x")), 0.0)
    a.feed(
        S,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + headers(se, 1, [(":status", "204")]),
        0.0,
    )
    got = [(r["version"], r["path"], r["status"]) for r in a.record()["requests"]]
    assert got == [("HTTP/1.1", "/", 200), ("HTTP/2", "/x", 204)]
