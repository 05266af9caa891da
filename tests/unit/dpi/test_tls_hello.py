"""ClientHello / ServerHello parsing: the parsed fields against tshark and real stacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from aioquic.buffer import Buffer  # type: ignore[attr-defined]
from aioquic.tls import Context, Epoch

from netwatch.dpi.tls.analyzer import TLSAnalyzer
from netwatch.dpi.tls.hello import (
    EXT_ENCRYPTED_CLIENT_HELLO,
    HELLO_RETRY_REQUEST_RANDOM,
    ClientHello,
    alpn_value,
    parse_client_hello,
    parse_server_hello,
)
from netwatch.dpi.tls.record import version_name
from tests.unit.dpi.test_tls_corpus import TLS_STEMS, run, tls_flows
from tests.unit.dpi.test_tls_malformed import CH_BODY, SH_BODY


@pytest.mark.parametrize("stem", TLS_STEMS)
def test_supported_versions_and_hrr_against_tshark(stem: str, tmp_path: Path) -> None:
    for tf in tls_flows(stem, tmp_path):
        analyzer = TLSAnalyzer()
        run(analyzer, tf.chunks, "chunks")
        ch = analyzer.client_hello
        assert ch is not None
        ours = [version_name(v) for v in ch.supported_versions if (v & 0x0F0F) != 0x0A0A]
        assert ours == tf.truth.get("tls_supported_versions", []), tf.key
        assert len(ch.random) == 32
        assert ch.compression_methods[-1] == 0  # every client offers null compression


def _quic_client_hello(extensions: list[tuple[int, bytes]]) -> ClientHello:
    """A real QUIC ClientHello from aioquic's TLS 1.3 stack (what QUIC Initials carry)."""
    ctx = Context(is_client=True, alpn_protocols=["h3", "h3-29"], server_name="quic.test")
    ctx.handshake_extensions = extensions
    buffers = {e: Buffer(capacity=4096) for e in (Epoch.INITIAL, Epoch.HANDSHAKE, Epoch.ONE_RTT)}
    ctx.handle_message(b"", buffers)
    message = buffers[Epoch.INITIAL].data
    assert message[0] == 1
    assert int.from_bytes(message[1:4], "big") == len(message) - 4
    return parse_client_hello(message[4:])


def test_quic_client_hello_transport_parameters() -> None:
    params = bytes.fromhex("0104000075300304000005dc")  # idle timeout 30000, max udp 1500
    ch = _quic_client_hello([(0x39, params)])
    assert ch.quic_transport_parameters == params
    assert ch.sni == "quic.test"
    assert ch.alpn == ("h3", "h3-29")
    assert ch.supported_versions == (0x0304,)
    assert ch.key_share_groups and set(ch.key_share_groups) <= set(ch.supported_groups)
    assert ch.signature_algorithms
    assert not ch.psk_offered and not ch.ech_offered


def test_quic_draft_transport_parameters_codepoint() -> None:
    ch = _quic_client_hello([(0xFFA5, b"\x01\x01\x00")])
    assert ch.quic_transport_parameters == b"\x01\x01\x00"


def _with_extra_extension(body: bytes, ext_type: int, data: bytes) -> bytes:
    """``body`` with one more extension appended (lengths fixed up)."""
    sid = body[34]
    suites = int.from_bytes(body[35 + sid : 37 + sid], "big")
    comp_at = 37 + sid + suites
    ext_at = comp_at + 1 + body[comp_at]
    old = int.from_bytes(body[ext_at : ext_at + 2], "big")
    extra = ext_type.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data
    return body[:ext_at] + (old + len(extra)).to_bytes(2, "big") + body[ext_at + 2 :] + extra


def test_ech_offered() -> None:
    # ECHClientHello outer: type 0, HPKE suite (HKDF-SHA256, AES-128-GCM), config id,
    # enc<0..2^16-1>, payload<1..2^16-1> (draft-ietf-tls-esni §5).
    ech = b"\x00" + b"\x00\x01\x00\x01" + b"\x2a" + b"\x00\x02\xab\xcd" + b"\x00\x03abc"
    ch = parse_client_hello(_with_extra_extension(CH_BODY, EXT_ENCRYPTED_CLIENT_HELLO, ech))
    assert ch.ech_offered
    assert ch.extension_types[-1] == EXT_ENCRYPTED_CLIENT_HELLO
    assert not parse_client_hello(CH_BODY).ech_offered


def test_duplicate_extension_first_one_counts() -> None:
    sni = b"\x00\x0c\x00\x00\x09other.one"
    ch = parse_client_hello(_with_extra_extension(CH_BODY, 0, sni))
    assert ch.sni == "fixture.test"
    assert ch.extension_types.count(0) == 2  # kept on the wire list for fingerprints


def test_client_hello_without_extensions() -> None:
    """SSLv3/TLS 1.0 clients may end the hello after the compression methods."""
    body = b"\x03\x01" + bytes(32) + b"\x00" + b"\x00\x04\x00\x2f\x00\x35" + b"\x01\x00"
    ch = parse_client_hello(body)
    assert ch.extensions == () and ch.sni is None
    assert ch.cipher_suites == (0x2F, 0x35)


def test_server_hello_fixture_and_hrr_random() -> None:
    sh = parse_server_hello(SH_BODY)
    assert not sh.is_hello_retry_request
    assert sh.compression_method == 0
    hrr = SH_BODY[:2] + HELLO_RETRY_REQUEST_RANDOM + SH_BODY[34:]
    assert parse_server_hello(hrr).is_hello_retry_request


def test_alpn_value_text_or_bytes() -> None:
    assert alpn_value(b"h2") == "h2"
    assert alpn_value(b"\xba\xad") == b"\xba\xad"
    assert alpn_value(b"a b") == b"a b"  # a space is not a token character
    assert alpn_value(b"") == b""
