"""Malformed, truncated and hostile TLS input: only MalformedError may escape.

Fixtures are real OpenSSL handshakes (tests/data/tls/README.md); the hostile variants
are made from them by lying about one length at a time, truncating, and fuzzing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.tls.analyzer import TLSAnalyzer, detect_tcp
from netwatch.dpi.tls.certs import parse_certificate_message
from netwatch.dpi.tls.hello import parse_client_hello, parse_server_hello
from netwatch.dpi.tls.record import MAX_RECORD, HandshakeAssembler, RecordSplitter
from netwatch.errors import MalformedError

DATA = Path(__file__).resolve().parents[2] / "data" / "tls"
CLIENT12 = (DATA / "tls12_client_flight1.bin").read_bytes()
SERVER12 = (DATA / "tls12_server_flight1.bin").read_bytes()
CLIENT13 = (DATA / "tls13_client_flight1.bin").read_bytes()
SERVER13 = (DATA / "tls13_server_flight1.bin").read_bytes()

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _messages(flight: bytes) -> list[tuple[int, bytes]]:
    records = RecordSplitter()
    records.push(flight)
    hs = HandshakeAssembler()
    out = []
    while (rec := records.pull()) is not None:
        if rec[0] == 22:
            hs.push(rec[1])
            while (msg := hs.pull()) is not None:
                out.append(msg)
    return out


CH_BODY = _messages(CLIENT12)[0][1]
SH_BODY, CERT_BODY = (body for _, body in _messages(SERVER12)[:2])


def _record(ctype: int, payload: bytes) -> bytes:
    return bytes([ctype, 3, 3]) + len(payload).to_bytes(2, "big") + payload


def _handshake(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


# -- the fixtures parse -------------------------------------------------------------


def test_fixtures_parse_to_what_openssl_was_told() -> None:
    ch = parse_client_hello(CH_BODY)
    assert ch.sni == "fixture.test"
    assert ch.alpn == ("http/1.1",)
    assert 0x0304 in ch.supported_versions
    assert ch.key_share_groups  # OpenSSL 3 sends one x25519 share
    sh = parse_server_hello(SH_BODY)
    assert sh.version == 0x0303 and sh.alpn == "http/1.1"
    chain = parse_certificate_message(CERT_BODY)
    assert [c.subject for c in chain.certs] == ["CN=fixture.test"]
    assert chain.certs[0].serial == "10:92"  # 4242
    assert chain.skipped == 0


# -- lying lengths, one at a time ---------------------------------------------------


def _lie(body: bytes, offset: int, width: int, delta: int) -> bytes:
    value = int.from_bytes(body[offset : offset + width], "big") + delta
    return (
        body[:offset] + (value % (1 << (8 * width))).to_bytes(width, "big") + body[offset + width :]
    )


def test_every_client_hello_length_field_that_lies_is_caught() -> None:
    sid_len = CH_BODY[34]
    suites_at = 35 + sid_len
    suites_len = int.from_bytes(CH_BODY[suites_at : suites_at + 2], "big")
    comp_at = suites_at + 2 + suites_len
    ext_at = comp_at + 1 + CH_BODY[comp_at]
    for offset, width in ((34, 1), (suites_at, 2), (comp_at, 1), (ext_at, 2)):
        for delta in (1, -1, 300):
            with pytest.raises(MalformedError):
                parse_client_hello(_lie(CH_BODY, offset, width, delta))
    # the length of the first extension's body
    with pytest.raises(MalformedError):
        parse_client_hello(_lie(CH_BODY, ext_at + 4, 2, 5000))


def test_inner_extension_lengths_are_bounded() -> None:
    ch = parse_client_hello(CH_BODY)
    sni = next(data for t, data in ch.extensions if t == 0)
    assert sni[:2] == (len(sni) - 2).to_bytes(2, "big")
    at = CH_BODY.index(sni)
    for inner in (0, 3):  # server_name_list length, then the HostName length
        with pytest.raises(MalformedError):
            parse_client_hello(_lie(CH_BODY, at + inner, 2, 1))


def test_odd_cipher_list_and_long_session_id() -> None:
    odd = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x03\x13\x01\x13" + b"\x01\x00"
    with pytest.raises(MalformedError, match="odd length"):
        parse_client_hello(odd)
    long_sid = b"\x03\x03" + bytes(32) + b"\x21" + bytes(33) + b"\x00\x02\x13\x01\x01\x00"
    with pytest.raises(MalformedError, match="session_id"):
        parse_client_hello(long_sid)


def test_server_hello_must_select_exactly_one_alpn() -> None:
    sh = parse_server_hello(SH_BODY)
    alpn = next(data for t, data in sh.extensions if t == 0x10)
    two = b"\x00\x06\x02h2\x02h3"
    body = SH_BODY.replace(b"\x00\x10" + len(alpn).to_bytes(2, "big") + alpn, b"")
    body = body[: 2 + 32 + 1 + len(sh.session_id) + 3]
    ext = b"\x00\x10" + len(two).to_bytes(2, "big") + two
    with pytest.raises(MalformedError, match="one protocol"):
        parse_server_hello(body + len(ext).to_bytes(2, "big") + ext)


def test_certificate_framing_is_strict_but_bad_der_is_skipped() -> None:
    ders = [CERT_BODY[6:]]  # one certificate: chain length (3) + cert length (3) + DER
    garbage = b"\x30\x03\x02\x01\x01"
    items = b"".join(len(d).to_bytes(3, "big") + d for d in (garbage, ders[0]))
    chain = parse_certificate_message(len(items).to_bytes(3, "big") + items)
    assert chain.skipped == 1 and len(chain.certs) == 1
    with pytest.raises(MalformedError):
        parse_certificate_message(_lie(CERT_BODY, 0, 3, 1))
    with pytest.raises(MalformedError):
        parse_certificate_message(_lie(CERT_BODY, 3, 3, 1))
    with pytest.raises(MalformedError):
        parse_certificate_message(CERT_BODY + b"\x00")


# -- the record layer and the analyzer ------------------------------------------------


def test_record_layer_rejects_bad_headers() -> None:
    for bad in (
        b"\x63\x03\x03\x00\x01\x00",  # content type 99
        b"\x16\x02\x00\x00\x01\x00",  # version major 2
        b"\x17\x03\x03" + (MAX_RECORD + 1).to_bytes(2, "big"),
    ):
        with pytest.raises(MalformedError):
            TLSAnalyzer().feed(Dir.CLIENT, bad, 0.0)


def test_handshake_messages_have_a_size_cap() -> None:
    huge = _record(22, b"\x0b\xff\xff\xff")
    with pytest.raises(MalformedError, match="refused"):
        TLSAnalyzer().feed(Dir.SERVER, huge, 0.0)
    with pytest.raises(MalformedError, match="unknown message type"):
        TLSAnalyzer().feed(Dir.SERVER, _record(22, _handshake(99, b"")), 0.0)


def test_truncated_handshake_waits_then_gap_fails_keeping_what_was_learnt() -> None:
    a = TLSAnalyzer()
    assert a.feed(Dir.CLIENT, CLIENT12, 0.0)
    assert a.feed(Dir.SERVER, SERVER12[:-10], 0.0)  # ServerHello and most of the rest
    assert not a.finished
    assert a.record()["sni"] == "fixture.test"
    with pytest.raises(MalformedError, match="gap"):
        a.gap(Dir.SERVER, 1460)
    rec = a.record()
    assert rec["sni"] == "fixture.test" and rec["version"] == "TLSv1.2"
    assert rec["certs"][0]["subject"] == "CN=fixture.test"


def test_handshake_message_spanning_records_and_several_per_record() -> None:
    msgs = _messages(SERVER12)
    stream = b"".join(_handshake(t, b) for t, b in msgs)
    # one record with all four messages, then the same cut into 7-byte records
    for size in (len(stream), 7):
        flight = b"".join(_record(22, stream[i : i + size]) for i in range(0, len(stream), size))
        a = TLSAnalyzer()
        a.feed(Dir.CLIENT, CLIENT12, 0.0)
        events = a.feed(Dir.SERVER, flight, 0.0)
        assert [type(e).__name__ for e in events] == ["ServerHelloSeen", "CertificatesSeen"]


def test_tls13_stops_before_the_encrypted_records() -> None:
    a = TLSAnalyzer()
    a.feed(Dir.CLIENT, CLIENT13, 0.0)
    a.feed(Dir.SERVER, SERVER13 + b"\xff garbage after the encrypted part", 0.0)
    assert a.finished
    assert a.record()["version"] == "TLSv1.3"
    assert a.feed(Dir.CLIENT, b"\x00\x00\x00", 0.0) == ()


def test_gap_after_the_cleartext_part_is_harmless() -> None:
    a = TLSAnalyzer()
    a.feed(Dir.CLIENT, CLIENT13, 0.0)
    a.feed(Dir.SERVER, SERVER13, 0.0)
    a.gap(Dir.SERVER, 1000)  # no exception: finished


def test_detect_tcp() -> None:
    assert detect_tcp(CLIENT12) and detect_tcp(CLIENT13)
    assert detect_tcp(CLIENT12[:6])
    assert not detect_tcp(CLIENT12[:5])
    assert not detect_tcp(SERVER12)  # a ServerHello, not a ClientHello
    assert not detect_tcp(b"GET / HTTP/1.1\r\n")
    assert not detect_tcp(b"\x16\x03\x05\x00\x10\x01")  # version 3.5
    assert not detect_tcp(b"\x16\x03\x01\x00\x00\x01")  # empty record


# -- fuzzing ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_hello_and_certificate_parsers(data: bytes) -> None:
    for parse in (parse_client_hello, parse_server_hello, parse_certificate_message):
        try:
            parse(data)
        except MalformedError:
            pass


@FUZZ
@given(st.data())
def test_fuzz_mutated_real_hellos(data: st.DataObject) -> None:
    body = data.draw(st.sampled_from([CH_BODY, SH_BODY, CERT_BODY]))
    cut = data.draw(st.integers(0, len(body)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(body) - 1), st.integers(0, 255))))
    mutated = bytearray(body[:cut])
    for at, value in flips:
        if at < len(mutated):
            mutated[at] = value
    for parse in (parse_client_hello, parse_server_hello, parse_certificate_message):
        try:
            parse(bytes(mutated))
        except MalformedError:
            pass


@FUZZ
@given(st.data())
def test_fuzz_analyzer_streams(data: st.DataObject) -> None:
    """Real flights with bytes flipped, fed in random pieces: only MalformedError escapes."""
    client = bytearray(CLIENT12)
    server = bytearray(SERVER12)
    for buf in (client, server):
        for at, value in data.draw(
            st.lists(st.tuples(st.integers(0, len(buf) - 1), st.integers(0, 255)), max_size=4)
        ):
            buf[at] = value
    a = TLSAnalyzer()
    try:
        for direction, buf in ((Dir.CLIENT, client), (Dir.SERVER, server)):
            pos = 0
            while pos < len(buf):
                step = data.draw(st.integers(1, 300))
                a.feed(direction, bytes(buf[pos : pos + step]), 0.0)
                pos += step
    except MalformedError:
        pass
    a.record()
    a.summary()
