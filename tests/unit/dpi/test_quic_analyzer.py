"""QUICAnalyzer over datagrams built from the RFC vectors: hello, versions, Retry, states."""

from __future__ import annotations

import pytest

from netwatch.dpi.base import Analyzer, Dir
from netwatch.dpi.quic import QUICAnalyzer, QUICClientHelloSeen, QUICConnectionClosed, detect_udp
from netwatch.dpi.quic.analyzer import MAX_BLIND_DATAGRAMS, TRANSITIONS
from netwatch.dpi.quic.versions import V1, V2, VERSIONS
from netwatch.errors import MalformedError
from tests.unit.dpi.test_quic_support import (
    RFC9001,
    RFC9369,
    RFC_DCID,
    close_frame,
    crypto_frame,
    h,
    handshake_packet,
    long_packet,
    rfc_client_hello_crypto,
    rfc_client_initial,
    rfc_server_initial,
    short_packet,
    version_negotiation,
)

SERVER_CID = h("f067a5502a4262b5")
CH = rfc_client_hello_crypto()


def _client_initial(
    payload: bytes,
    pn: int = 0,
    key_dcid: bytes = RFC_DCID,
    dcid: bytes | None = None,
    version: int = V1,
    pad_to: int = 1200,
) -> bytes:
    return long_packet(
        version=VERSIONS[version],
        dcid=key_dcid if dcid is None else dcid,
        scid=b"",
        key_dcid=key_dcid,
        sender=0,
        pn=pn,
        payload=payload,
        pad_to=pad_to,
    )


def _server_initial(
    payload: bytes, pn: int = 0, key_dcid: bytes = RFC_DCID, version: int = V1
) -> bytes:
    return long_packet(
        version=VERSIONS[version],
        dcid=b"",
        scid=SERVER_CID,
        key_dcid=key_dcid,
        sender=1,
        pn=pn,
        payload=payload,
    )


def _state(a: QUICAnalyzer) -> str | None:
    return a.app_state  # (a call: mypy must not narrow the property across feeds)


def _finished(a: QUICAnalyzer) -> bool:
    return a.finished


def test_is_an_analyzer() -> None:
    a = QUICAnalyzer()
    assert isinstance(a, Analyzer)
    assert a.protocol == "QUIC"
    assert a.app_state is None
    assert not _finished(a)


@pytest.mark.parametrize(("v", "name"), [(RFC9001, "v1"), (RFC9369, "v2")])
def test_rfc_client_and_server_initial(v: dict[str, str], name: str) -> None:
    a = QUICAnalyzer()
    events = a.feed(Dir.CLIENT, rfc_client_initial(v), 1.0)
    assert len(events) == 1
    ev = events[0]
    assert isinstance(ev, QUICClientHelloSeen)
    assert (ev.ts, ev.version, ev.sni, ev.alpn) == (1.0, name, "example.com", ("alpn",))
    assert ev.ja4.startswith("q13d0")
    assert _state(a) == "QUIC_INITIAL"
    assert a.idle_timeout == 30.0
    assert a.summary() == "QUIC (example.com)"
    assert a.feed(Dir.SERVER, rfc_server_initial(v), 1.1) == []
    rec = a.record()
    assert rec["version"] == name
    assert rec["sni"] == "example.com"
    assert rec["alpn_offered"] == ["alpn"]
    assert rec["dcid"] == RFC_DCID.hex()
    assert rec["scid"] == ""
    assert rec["server_scid"] == SERVER_CID.hex()
    assert rec["tls_cipher"] == "0x1301"
    assert rec["ja4"] == ev.ja4
    assert len(rec["ja3"]) == 32
    assert rec["close_error"] is None
    assert rec["state"] == "QUIC_INITIAL"
    assert rec["client_version"] is None


def test_compatible_version_negotiation_v1_to_v2() -> None:
    # RFC 9368: the client speaks v1, the server answers in v2 under keys from the same DCID.
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(RFC9001), 1.0)
    a.feed(Dir.SERVER, rfc_server_initial(RFC9369), 1.1)
    a.feed(Dir.CLIENT, _client_initial(b"\x01", pn=3, version=V2), 1.2)
    rec = a.record()
    assert (rec["version"], rec["client_version"], rec["tls_cipher"]) == ("v2", "v1", "0x1301")


def test_hello_across_packets_and_datagrams_out_of_order() -> None:
    a = QUICAnalyzer()
    p0 = _client_initial(crypto_frame(0, CH[:100]), pn=0, pad_to=0)
    p1 = _client_initial(crypto_frame(150, CH[150:]), pn=1, pad_to=0)
    p2 = _client_initial(crypto_frame(90, CH[90:160]) + b"\x01", pn=2)
    assert a.feed(Dir.CLIENT, p1 + p0, 1.0) == []  # coalesced, the later bytes first
    assert a.record()["sni"] is None
    events = a.feed(Dir.CLIENT, p2, 1.5)  # the hole [100, 150) arrives last
    assert [type(e) for e in events] == [QUICClientHelloSeen]
    assert a.record()["sni"] == "example.com"
    # Retransmissions of the hello change nothing and raise no second event.
    assert a.feed(Dir.CLIENT, _client_initial(crypto_frame(0, CH), pn=3), 2.0) == []


def test_states_to_connected_then_finished() -> None:
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    a.feed(Dir.SERVER, rfc_server_initial() + handshake_packet(VERSIONS[V1], b"", SERVER_CID), 1.1)
    assert _state(a) == "QUIC_HANDSHAKE"
    a.feed(Dir.SERVER, short_packet(b""), 1.2)
    assert not _finished(a)
    a.feed(Dir.CLIENT, short_packet(b"\x99" * 8), 1.3)  # not this connection's ID
    assert _state(a) == "QUIC_HANDSHAKE"
    assert a.ignored_bytes > 0
    a.feed(Dir.CLIENT, short_packet(SERVER_CID), 1.4)
    assert _state(a) == "QUIC_CONNECTED"
    assert _finished(a)
    assert a.record()["state"] == "QUIC_CONNECTED"


def test_transition_table_only_moves_forward() -> None:
    order = ["QUIC_INITIAL", "QUIC_HANDSHAKE", "QUIC_CONNECTED", "QUIC_DRAINING", "QUIC_CLOSED"]
    for (state, _event), nxt in TRANSITIONS.items():
        assert order.index(nxt) > order.index(state)


def test_connection_close_in_initial() -> None:
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    events = a.feed(Dir.SERVER, _server_initial(close_frame(0x178, "no ALPN", 0x06)), 1.1)
    assert events == [
        QUICConnectionClosed(
            1.1, "server", 0x178, "CRYPTO_ERROR(no_application_protocol)", "no ALPN"
        )
    ]
    assert _state(a) == "QUIC_DRAINING"
    assert a.idle_timeout == 3.0
    assert not _finished(a)  # waits for the peer's close
    assert a.record()["close_error"] == {
        "by": "server",
        "code": 0x178,
        "name": "CRYPTO_ERROR(no_application_protocol)",
        "reason": "no ALPN",
        "frame_type": 6,
    }
    a.feed(Dir.CLIENT, _client_initial(close_frame(0x0, ""), pn=1), 1.2)
    assert _state(a) == "QUIC_CLOSED"
    assert _finished(a)
    assert a.record()["close_error"]["by"] == "server"  # the first close is the cause


def test_retry_moves_the_initial_keys() -> None:
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    forged = h(RFC9001["retry"])[:-1] + b"\x00"
    a.feed(Dir.SERVER, forged, 1.1)
    assert a.record()["retry"] is False  # a bad integrity tag: dropped like a client does
    a.feed(Dir.SERVER, h(RFC9001["retry"]), 1.2)  # RFC 9001 A.4, for the A.2 DCID
    assert a.record()["retry"] is True
    # The client's next Initial goes to (and is keyed by) the Retry's SCID.
    a.feed(Dir.CLIENT, _client_initial(crypto_frame(0, CH), pn=1, key_dcid=SERVER_CID), 1.3)
    a.feed(Dir.SERVER, _server_initial(b"\x01", pn=0, key_dcid=SERVER_CID), 1.4)
    rec = a.record()
    assert rec["dcid"] == RFC_DCID.hex()  # the original DCID stays the flow's identity
    assert rec["sni"] == "example.com"


def test_version_negotiation_then_new_attempt() -> None:
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    a.feed(Dir.SERVER, version_negotiation(b"", RFC_DCID, [V2, 0x0A0A0A0A]), 1.1)
    new_dcid = b"\x42" * 12
    events = a.feed(
        Dir.CLIENT, _client_initial(crypto_frame(0, CH), key_dcid=new_dcid, version=V2), 1.2
    )
    assert len(events) == 1
    rec = a.record()
    assert rec["version"] == "v2"
    assert rec["version_negotiation"] == ["v2", "0x0a0a0a0a"]
    assert rec["dcid"] == new_dcid.hex()


def test_server_initial_without_client_initial_is_skipped() -> None:
    a = QUICAnalyzer()
    assert a.feed(Dir.SERVER, rfc_server_initial(), 1.0) == []
    assert a.app_state is None
    for i in range(MAX_BLIND_DATAGRAMS - 1):  # the server's Initial was the first
        assert not _finished(a)
        a.feed(Dir.CLIENT, short_packet(b"\x01" * 8), 2.0 + i)
    assert _finished(a)
    assert a.record()["sni"] is None


def test_trailing_garbage_changes_nothing() -> None:
    clean, dirty = QUICAnalyzer(), QUICAnalyzer()
    for a, tail in ((clean, b""), (dirty, b"\x00" * 40 + b"\x13\x37garbage")):
        a.feed(Dir.CLIENT, rfc_client_initial() + tail, 1.0)
        a.feed(Dir.SERVER, rfc_server_initial() + tail, 1.1)
    assert dirty.record() == clean.record()
    assert dirty.ignored_bytes == 2 * 49


@pytest.mark.parametrize(
    ("direction", "datagram", "reason"),
    [
        (Dir.CLIENT, b"\x16\x03\x01\x00\x05hello", "fixed bit"),
        (Dir.CLIENT, rfc_client_initial()[:-1] + b"\x00", "does not decrypt"),
        (Dir.CLIENT, _client_initial(crypto_frame(0, b"\x02\x00\x00\x01\x00")), "TLS message 2"),
        (Dir.CLIENT, _client_initial(crypto_frame(0, CH[:4] + b"\xff" * 241)), "TLS in CRYPTO"),
        (Dir.CLIENT, _client_initial(h("08000141")), "not allowed"),
    ],
    ids=["not-quic", "bad-tag", "not-a-hello", "broken-hello", "stream-frame"],
)
def test_malformed_raises_quic_malformed_error(
    direction: Dir, datagram: bytes, reason: str
) -> None:
    a = QUICAnalyzer()
    with pytest.raises(MalformedError, match=reason) as info:
        a.feed(direction, datagram, 1.0)
    assert info.value.protocol == "QUIC"


def test_server_hello_slot_holds_only_server_hello() -> None:
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    with pytest.raises(MalformedError, match="server Initial carries TLS message 1"):
        a.feed(Dir.SERVER, _server_initial(crypto_frame(0, CH)), 1.1)
    assert a.record()["sni"] == "example.com"  # what was learnt stays


def test_detect_udp() -> None:
    assert detect_udp(rfc_client_initial(RFC9001))
    assert detect_udp(rfc_client_initial(RFC9369))
    assert not detect_udp(short_packet(SERVER_CID))
    assert not detect_udp(b"\x00\x01\x00\x00\x00\x01\x00\x00")  # a DNS header


def _hello_retry_request() -> bytes:
    hrr_random = h("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    exts = h("002b00020304") + h("00330002001d")
    body = h("0303") + hrr_random + h("00") + h("1301") + h("00") + len(exts).to_bytes(2, "big")
    body += exts
    return b"\x02" + len(body).to_bytes(3, "big") + body


def test_hello_retry_request_then_server_hello() -> None:
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    hrr = _hello_retry_request()
    a.feed(Dir.SERVER, _server_initial(crypto_frame(0, hrr)), 1.1)
    rec = a.record()
    assert (rec["hello_retry"], rec["tls_cipher"]) == (True, None)
    # The client's second ClientHello follows the first in its CRYPTO stream.
    second = _client_initial(crypto_frame(len(CH), CH), pn=1)
    assert a.feed(Dir.CLIENT, second, 1.2) == []  # JA4 and SNI stay the first hello's
    real_sh = h(RFC9001["server_plain_payload"])[9:]
    assert real_sh[:1] == b"\x02"
    a.feed(Dir.SERVER, _server_initial(crypto_frame(len(hrr), real_sh), pn=1), 1.3)
    assert a.record()["tls_cipher"] == "0x1301"


def test_greased_fixed_bit_after_the_handshake_started() -> None:
    a = QUICAnalyzer()
    with pytest.raises(MalformedError, match="fixed bit"):
        QUICAnalyzer().feed(Dir.CLIENT, b"\x01" + SERVER_CID + bytes(30), 1.0)
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    a.feed(Dir.SERVER, rfc_server_initial() + b"\x01" + bytes(30), 1.1)
    assert _state(a) == "QUIC_INITIAL"  # coalesced bytes with the bit clear: padding or junk
    a.feed(Dir.SERVER, b"\x01" + bytes(30), 1.1)  # a datagram of its own: RFC 9287 greased
    a.feed(Dir.CLIENT, b"\x01" + SERVER_CID + bytes(30), 1.2)
    assert _state(a) == "QUIC_CONNECTED"


def test_buffers_released_when_connected_and_late_initials_still_open() -> None:
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    a.feed(Dir.SERVER, rfc_server_initial() + handshake_packet(VERSIONS[V1], b"", SERVER_CID), 1.1)
    a.feed(Dir.SERVER, short_packet(b""), 1.2)
    a.feed(Dir.CLIENT, short_packet(SERVER_CID), 1.3)
    assert _state(a) == "QUIC_CONNECTED"
    assert a._keys == {}
    assert all(len(side.crypto) == 0 for side in a._sides)
    before = a.record()
    # A late retransmitted Initial: keys come back, its CRYPTO bytes are not kept.
    assert a.feed(Dir.CLIENT, _client_initial(crypto_frame(0, CH), pn=5), 1.4) == []
    assert a.record() == before
    a.feed(Dir.SERVER, _server_initial(close_frame(0x0A, "late"), pn=6), 1.5)
    assert a.record()["close_error"]["name"] == "PROTOCOL_VIOLATION"
