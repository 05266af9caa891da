"""The SSL 2.0-compatible ClientHello (RFC 5246 Appendix E.2), built byte by byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import AppEvent, Dir
from netwatch.dpi.tls.analyzer import ClientHelloSeen, TLSAnalyzer, detect_tcp
from netwatch.dpi.tls.sslv2 import is_sslv2_client_hello, parse_sslv2_client_hello
from netwatch.errors import MalformedError
from tests.unit.dpi.test_tls_malformed import SERVER12

SPECS = bytes.fromhex(
    "00002f"  # TLS_RSA_WITH_AES_128_CBC_SHA
    "000035"  # TLS_RSA_WITH_AES_256_CBC_SHA
    "00000a"  # TLS_RSA_WITH_3DES_EDE_CBC_SHA
    "0700c0"  # SSL_CK_DES_192_EDE3_CBC_WITH_MD5 (SSL 2.0 only)
    "0000ff"  # TLS_EMPTY_RENEGOTIATION_INFO_SCSV
)
CHALLENGE = bytes(range(16))


def sslv2_hello(version: bytes = b"\x03\x01", specs: bytes = SPECS, sid: bytes = b"") -> bytes:
    body = (
        b"\x01"
        + version
        + len(specs).to_bytes(2, "big")
        + len(sid).to_bytes(2, "big")
        + len(CHALLENGE).to_bytes(2, "big")
        + specs
        + sid
        + CHALLENGE
    )
    return (0x8000 | len(body)).to_bytes(2, "big") + body


def test_parse_maps_specs_and_challenge() -> None:
    ch = parse_sslv2_client_hello(sslv2_hello())
    assert ch.legacy_version == 0x0301
    assert ch.cipher_suites == (0x2F, 0x35, 0x0A, 0x0700C0, 0xFF)
    assert ch.random == bytes(16) + CHALLENGE  # right-aligned (RFC 5246 E.2)
    assert ch.extensions == () and ch.sni is None


def test_analyzer_then_a_tls_server_hello() -> None:
    record = sslv2_hello()
    a = TLSAnalyzer(server_port=443)
    events: list[AppEvent] = []
    for i in range(len(record)):  # byte by byte
        events.extend(a.feed(Dir.CLIENT, record[i : i + 1], 0.0))
    assert [type(e) for e in events] == [ClientHelloSeen]
    a.feed(Dir.SERVER, SERVER12, 0.0)
    rec = a.record()
    assert rec["client_version"] == "TLSv1.0"
    assert rec["version"] == "TLSv1.2"
    assert rec["ja4"].startswith("t10i0500")
    assert rec["ja3"] is not None
    assert a.summary() == "HTTPS"


def test_sslv2_server_ends_the_analysis() -> None:
    a = TLSAnalyzer()
    a.feed(Dir.CLIENT, sslv2_hello(version=b"\x00\x02"), 0.0)
    a.feed(Dir.SERVER, b"\x80\x05\x04\x00\x01\x00\x02", 0.0)  # SSL 2.0 SERVER-HELLO
    assert a.finished
    assert a.record()["client_version"] == "SSLv2"


def test_detection_and_bad_lengths() -> None:
    assert detect_tcp(sslv2_hello())
    assert not detect_tcp(sslv2_hello(version=b"\x00\x02"))  # SSL 2.0 only: not ours
    assert is_sslv2_client_hello(sslv2_hello(version=b"\x00\x02"))
    with pytest.raises(MalformedError, match="multiple of 3"):
        parse_sslv2_client_hello(sslv2_hello(specs=SPECS[:-1]))
    lying = bytearray(sslv2_hello())
    lying[5:7] = (3 * 10844).to_bytes(2, "big")  # cipher_spec_length past the record
    with pytest.raises(MalformedError, match="needs"):
        parse_sslv2_client_hello(bytes(lying))
    with pytest.raises(MalformedError):
        TLSAnalyzer().feed(Dir.CLIENT, bytes(lying), 0.0)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.binary(max_size=300))
def test_fuzz_raw_streams(client: bytes, server: bytes) -> None:
    a = TLSAnalyzer()
    try:
        a.feed(Dir.CLIENT, client, 0.0)
        a.feed(Dir.SERVER, server, 0.0)
    except MalformedError:
        pass
    a.record()
