"""OpenVPNAnalyzer: OpenVPN 2.6 captures over UDP and TCP, plain, with tls-auth, tls-crypt
and tls-crypt-v2; the TLS handshake inside the control channel; fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.openvpn import OpenVPNAnalyzer, OpenVPNSession, detect_tcp, detect_udp
from netwatch.errors import MalformedError
from tests.unit.engine.helpers import analyze
from tests.unit.engine.test_schema import VALIDATOR
from tests.util.streams import Flow, flows_of

DATA = Path(__file__).resolve().parents[2] / "data" / "openvpn"
CAPTURES = {
    "openvpn_udp.pcap": ("udp", "none", None),
    "openvpn_tcp.pcap": ("tcp", "none", None),
    "openvpn_tls_auth.pcap": ("udp", "tls-auth", 20),
    "openvpn_tls_crypt.pcap": ("udp", "tls-crypt", None),
    "openvpn_tls_crypt_v2.pcap": ("udp", "tls-crypt", None),  # client key wrapped in its reset
}


def the_flow(name: str) -> Flow:
    (flow,) = [f for f in flows_of(DATA / name) if f.chunks]
    return flow


def run(flow: Flow, mode: str = "whole") -> OpenVPNAnalyzer:
    a = OpenVPNAnalyzer(flow.transport)
    for d, data, ts in flow.chunks:
        if mode == "bytes" and flow.transport == "tcp":
            for i in range(len(data)):
                a.feed(Dir(d), data[i : i + 1], ts)
        else:
            a.feed(Dir(d), data, ts)
    return a


@pytest.mark.parametrize("name", sorted(CAPTURES))
@pytest.mark.parametrize("mode", ["whole", "bytes"])
def test_openvpn_captures(name: str, mode: str) -> None:
    transport, wrapping, hmac = CAPTURES[name]
    flow = the_flow(name)
    first = flow.chunks[0][1]
    assert (detect_tcp if transport == "tcp" else detect_udp)(first)
    r = run(flow, mode).record()
    assert (r["transport"], r["control_wrapping"], r["hmac_size"]) == (transport, wrapping, hmac)
    v3 = name.endswith("_v2.pcap")  # tls-crypt-v2 resets carry the wrapped client key
    assert r["opcodes"][f"control_hard_reset_client_v{3 if v3 else 2}"] == 1
    assert r["opcodes"]["control_hard_reset_server_v2"] == 1
    assert r["data_packets"] > 0 and r["key_ids"] == [0]
    assert r["client_session_id"] and r["server_session_id"]
    assert r["client_session_id"] != r["server_session_id"]
    if wrapping == "tls-crypt":
        assert r["tls"] is None  # the control channel is encrypted
    else:
        assert r["tls"]["version"] == "TLSv1.3" and r["tls"]["ja3"]
        assert r["tls"]["cipher"] == "TLS_AES_256_GCM_SHA384" and r["tls_error"] is None


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_session_event(name: str) -> None:
    flow = the_flow(name)
    a = OpenVPNAnalyzer(flow.transport)
    (event,) = [e for d, data, ts in flow.chunks for e in a.feed(Dir(d), data, ts)]
    r = a.record()
    assert event == OpenVPNSession(
        flow.chunks[1][2], r["client_session_id"], r["server_session_id"], CAPTURES[name][1]
    )


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_engine_records_match_schema(name: str) -> None:
    recs = [r for r in analyze(DATA / name) if r.get("app")]
    assert [r["app"]["protocol"] for r in recs] == ["OpenVPN"]
    assert not list(VALIDATOR.iter_errors(recs[0]))


def test_control_packets_out_of_order_and_repeated() -> None:
    chunks = the_flow("openvpn_udp.pcap").chunks
    a = OpenVPNAnalyzer("udp")
    for d, data, ts in chunks[:2]:  # the two hard resets
        a.feed(Dir(d), data, ts)
    hello = chunks[2][1]  # the client's first control packet: a whole ClientHello
    assert hello[0] >> 3 == 4 and hello[9] == 1  # one ack: ack id and session id follow
    sid, tls = hello[1:9], hello[9 + 1 + 4 + 8 + 4 :]
    assert tls[:1] == b"\x16"

    def control(msg_id: int, payload: bytes) -> bytes:
        return b"\x20" + sid + b"\x00" + msg_id.to_bytes(4, "big") + payload

    first, second = control(1, tls[:100]), control(2, tls[100:])
    for pkt in (second, first, first, second):
        a.feed(Dir.CLIENT, pkt, 1.0)
    assert a._tls.client_hello is not None and a.record()["tls_error"] is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\xf8" + b"\x00" * 20, b"\x20\x01"],  # empty, opcode 31, truncated control
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        OpenVPNAnalyzer("udp").feed(Dir.CLIENT, data, 0.0)


def test_detection() -> None:
    plain = b"\x38" + b"\x11" * 8 + b"\x00" + b"\x00\x00\x00\x00"
    assert detect_udp(plain) and detect_tcp(len(plain).to_bytes(2, "big") + plain)
    assert not detect_udp(b"\x39" + plain[1:])  # key id 1
    assert not detect_udp(plain[:-1] + b"\x01")  # message id 1
    assert not detect_udp(plain + b"\x00")  # no known size
    assert not detect_tcp(b"\x00\x20" + plain)  # length prefix disagrees
    assert not detect_udp(b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www")  # DNS


STREAMS = [[d for _, d, _ in the_flow(name).chunks][:10] for name in sorted(CAPTURES)]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_only_malformed_escapes(data: st.DataObject) -> None:
    chunks = data.draw(st.sampled_from(STREAMS))
    i = data.draw(st.integers(0, len(chunks) - 1))
    mutated = bytearray(chunks[i])
    for _ in range(data.draw(st.integers(1, 8))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    a = OpenVPNAnalyzer("udp")
    try:
        for j, chunk in enumerate(chunks):
            a.feed(Dir(j % 2), bytes(mutated) if j == i else chunk, 0.0)
    except MalformedError:
        pass
    a.record()
    a.summary()
