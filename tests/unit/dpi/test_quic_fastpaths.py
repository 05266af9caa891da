"""The index-arithmetic parsers of the QUIC package against Buffer-based models.

Long headers and transport parameters are parsed with plain index arithmetic for speed.
The models below are the straightforward Buffer-based parsers they replaced (RFC 9000
§17.2, §18); on any input, real or mutated, both must give the same packet or the same
error reason. The shared header-protection context must give the RFC 9001 masks in any
order and never carry a partial block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netwatch.dpi.quic.crypto import SAMPLE_LEN, PacketProtection
from netwatch.dpi.quic.frames import (
    AckFrame,
    CryptoFrame,
    PingFrame,
    _close,
    parse_initial_frames,
)
from netwatch.dpi.quic.packet import (
    MAX_CID_LEN,
    RETRY_TAG_LEN,
    Buffer,
    Packet,
    encode_varint,
    parse_packet,
    read_varint,
)
from netwatch.dpi.quic.transport_params import MAX_PARAMS, _pairs
from netwatch.dpi.quic.versions import NEGOTIATION, V1, VERSIONS, PacketType, lookup
from netwatch.errors import MalformedError
from tests.unit.dpi.test_quic_support import (
    RFC9001,
    RFC9369,
    RFC_DCID,
    h,
    rfc_client_initial,
    rfc_server_initial,
    version_negotiation,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def model_long(buf: Buffer, grease_ok: bool) -> Packet:
    """The Buffer-based long-header parser (one pull per field)."""
    start = buf.pos
    first = buf.u8("first byte")
    version = buf.u32("version")
    known = lookup(version)
    dcid_len = buf.u8("dcid length")
    if known is not None and dcid_len > MAX_CID_LEN:
        raise MalformedError("QUIC", f"dcid length {dcid_len} > {MAX_CID_LEN}")
    dcid = buf.take(dcid_len, "dcid")
    scid_len = buf.u8("scid length")
    if known is not None and scid_len > MAX_CID_LEN:
        raise MalformedError("QUIC", f"scid length {scid_len} > {MAX_CID_LEN}")
    scid = buf.take(scid_len, "scid")
    data = buf.data
    if version == NEGOTIATION:
        rest = buf.end - buf.pos
        if rest % 4 or rest == 0:
            raise MalformedError("QUIC", "version negotiation: bad version list")
        versions = tuple(buf.u32() for _ in range(rest // 4))
        return Packet(
            PacketType.VERSION_NEGOTIATION, True, first, version, dcid, scid,
            data[start : buf.end], buf.end - start, supported_versions=versions,
        )  # fmt: skip
    if known is None or known.salt is None:
        buf.pos = buf.end
        return Packet(
            PacketType.UNKNOWN, True, first, version, dcid, scid,
            data[start : buf.end], buf.end - start,
        )  # fmt: skip
    if not first & 0x40 and not grease_ok:
        raise MalformedError("QUIC", "long header: fixed bit is 0")
    ptype = known.long_types[(first >> 4) & 0x03]
    if ptype == PacketType.RETRY:
        if buf.end - buf.pos < RETRY_TAG_LEN:
            raise MalformedError("QUIC", "retry: shorter than its integrity tag")
        token = data[buf.pos : buf.end - RETRY_TAG_LEN]
        buf.pos = buf.end
        return Packet(
            ptype, True, first, version, dcid, scid,
            data[start : buf.end], buf.end - start, token=token,
        )  # fmt: skip
    token = b""
    if ptype == PacketType.INITIAL:
        token = buf.take(buf.varint("token length"), "token")
    length = buf.varint("length")
    pn_offset = buf.pos - start
    end = buf.pos + length
    if end > buf.end:
        raise MalformedError("QUIC", f"length {length} runs past the datagram")
    if length < 1 + 16:
        raise MalformedError("QUIC", f"length {length} too short for a packet")
    buf.pos = end
    return Packet(ptype, True, first, version, dcid, scid, data[start:end], pn_offset, token=token)


def model_pairs(data: bytes) -> list[tuple[int, bytes]]:
    """The Buffer-based transport parameter list (RFC 9000 §18)."""
    pairs: list[tuple[int, bytes]] = []
    buf = Buffer(data)
    while not buf.eof():
        pid = buf.varint("transport parameter id")
        pairs.append((pid, buf.take(buf.varint("transport parameter length"), "tp value")))
        if len(pairs) > MAX_PARAMS:
            raise MalformedError("QUIC", "transport parameters: too many")
    return pairs


def model_ack(buf: Buffer, ecn: bool) -> AckFrame:
    """The Buffer-based ACK frame reader (RFC 9000 §19.3)."""
    largest = buf.varint("ack largest")
    buf.varint("ack delay")
    count = buf.varint("ack range count")
    first = buf.varint("ack first range")
    if first > largest:
        raise MalformedError("QUIC", "ack: first range below packet 0")
    if count > (buf.end - buf.pos) // 2:
        raise MalformedError("QUIC", "ack: more ranges than bytes")
    for _ in range(count):
        buf.varint("ack gap")
        buf.varint("ack range")
    if ecn:
        for _ in range(3):
            buf.varint("ack ecn count")
    return AckFrame(largest)


def model_frames(payload: bytes) -> list[Any]:
    """The Buffer-based Initial frame loop (RFC 9000 §12.4, §19)."""
    if not payload:
        raise MalformedError("QUIC", "initial: empty payload")
    buf = Buffer(payload)
    frames: list[Any] = []
    while not buf.eof():
        ftype = buf.varint("frame type")
        if ftype == 0x00:
            rest = payload[buf.pos : buf.end]
            buf.pos += len(rest) - len(rest.lstrip(b"\x00"))
        elif ftype == 0x01:
            frames.append(PingFrame())
        elif ftype in (0x02, 0x03):
            frames.append(model_ack(buf, ftype == 0x03))
        elif ftype == 0x06:
            offset = buf.varint("crypto offset")
            data = buf.take(buf.varint("crypto length"), "crypto data")
            if offset + len(data) >= 1 << 62:
                raise MalformedError("QUIC", "crypto: offset past 2^62")
            frames.append(CryptoFrame(offset, data))
        elif ftype in (0x1C, 0x1D):
            frames.append(_close(buf, ftype == 0x1D))
        else:
            raise MalformedError("QUIC", f"initial: frame type 0x{ftype:x} not allowed")
    return frames


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except MalformedError as exc:
        return "error", exc.reason


def _same_long(datagram: bytes, grease_ok: bool) -> None:
    """Both parsers from offset 0 (and after a prefix: a coalesced position)."""
    for prefix in (b"", b"\xc0" * 3):
        data = prefix + datagram
        if not data or not data[len(prefix) :][:1] or not data[len(prefix)] & 0x80:
            continue
        ours, model = Buffer(data, len(prefix)), Buffer(data, len(prefix))
        got = _outcome(lambda b=ours: (parse_packet(b, grease_ok), b.pos))  # type: ignore[misc]
        want = _outcome(lambda b=model: (model_long(b, grease_ok), b.pos))  # type: ignore[misc]
        assert got == want


LONG_SAMPLES = [
    rfc_client_initial(),
    rfc_server_initial(),
    rfc_client_initial(RFC9369),
    h(RFC9001["retry"]),
    version_negotiation(RFC_DCID, b"\x01\x02", [0x00000001, 0x6B3343CF]),
    h("c0ff00001d08") + RFC_DCID + b"\x00" + encode_varint(40) + b"\x00" * 40,  # draft-29
    b"\xc0\x1a\x2a\x3a\x4a\x04abcd\x02ef" + b"xyz",  # unknown version: invariants only
]


@pytest.mark.parametrize("datagram", LONG_SAMPLES)
def test_real_headers_parse_like_the_model(datagram: bytes) -> None:
    _same_long(datagram, grease_ok=False)
    _same_long(datagram, grease_ok=True)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(LONG_SAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, min(len(data), 60)))  # the header is at the front
        kind = draw(st.sampled_from(("set", "cut", "insert", "truncate")))
        if kind == "set" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 4))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(_mutated(), st.booleans())
def test_mutated_headers_parse_like_the_model(datagram: bytes, grease_ok: bool) -> None:
    _same_long(datagram, grease_ok)


@FUZZ
@given(st.binary(max_size=64), st.booleans())
def test_random_headers_parse_like_the_model(tail: bytes, grease_ok: bool) -> None:
    _same_long(b"\xc0" + tail, grease_ok)
    _same_long(b"\xc0\x00\x00\x00\x01" + tail, grease_ok)


@FUZZ
@given(st.integers(0, 2**62 - 1), st.binary(max_size=3))
def test_read_varint_round_trip(value: int, tail: bytes) -> None:
    wire = encode_varint(value) + tail
    assert read_varint(wire, 0, len(wire)) == (value, len(wire) - len(tail))
    with pytest.raises(MalformedError, match="x: truncated"):
        read_varint(wire, 0, len(encode_varint(value)) - 1, "x")


TP_SAMPLE = h("0104800075300304000005dc0f08") + RFC_DCID + h("1108000000016b3343cf2ab200")


@FUZZ
@given(st.data())
def test_transport_parameters_like_the_model(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from([TP_SAMPLE, b"", b"\x01\x00"])))
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(raw)))
        if data.draw(st.booleans()) and at < len(raw):
            raw[at] = data.draw(st.integers(0, 255))
        else:
            del raw[at:]
    body = bytes(raw)
    assert _outcome(lambda: _pairs(body, None)) == _outcome(lambda: model_pairs(body))


def test_too_many_transport_parameters_like_the_model() -> None:
    body = b"\x01\x00" * (MAX_PARAMS + 1)
    assert _outcome(lambda: _pairs(body, None)) == _outcome(lambda: model_pairs(body))
    assert _outcome(lambda: _pairs(body, None))[0] == "error"


def test_shared_mask_context_gives_rfc_masks_in_any_order() -> None:
    client, _ = PacketProtection.initial_pair(VERSIONS[V1], RFC_DCID)
    sample = h(RFC9001["client_sample"])
    other = bytes(range(SAMPLE_LEN))
    first = client.mask(sample)
    assert first[:5] == h(RFC9001["client_mask"])
    masks = [client.mask(other), client.mask(sample), client.mask(other)]
    assert masks[1] == first and masks[0] == masks[2] != first
    for bad in (sample[:15], sample + b"\x00"):
        with pytest.raises(ValueError, match="16 bytes"):
            client.mask(bad)
    assert client.mask(sample) == first  # a refused sample left nothing behind


@pytest.mark.parametrize("v", [RFC9001, RFC9369])
def test_lazy_initial_keys_equal_the_pair(v: dict[str, Any]) -> None:
    from netwatch.dpi.quic.crypto import InitialKeys

    version = VERSIONS[V1] if v is RFC9001 else lookup(0x6B3343CF)
    assert version is not None
    pair = PacketProtection.initial_pair(version, RFC_DCID)
    keys = InitialKeys(version, RFC_DCID)
    client = keys.side(0)
    assert keys._sides[1] is None  # the server's side is not derived until asked for
    assert keys.side(0) is client
    for ours, theirs in zip((client, keys.side(1)), pair, strict=True):
        assert (ours.key, ours.iv, ours.hp) == (theirs.key, theirs.iv, theirs.hp)
    assert client.key == h(v["client_key"])
    assert PacketProtection.initial(version, RFC_DCID, 1).hp == pair[1].hp


def test_client_only_flow_derives_only_client_keys() -> None:
    from netwatch.dpi.base import Dir
    from netwatch.dpi.quic.analyzer import QUICAnalyzer

    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 0.0)
    assert a.record()["sni"] == "example.com"
    (keys,) = a._keys.values()
    assert keys._sides[0] is not None and keys._sides[1] is None
    a.feed(Dir.SERVER, rfc_server_initial(), 0.1)
    assert keys._sides[1] is not None
    assert a.record()["tls_cipher"] == "0x1301"


def test_zero_padding_after_a_packet_is_the_rest() -> None:
    from netwatch.dpi.quic.packet import split_datagram

    initial = rfc_client_initial()
    for padding in (b"\x00", b"\x00" * 300, b"\x00\x01\x02"):
        packets, rest = split_datagram(initial + padding)
        assert [p.data for p in packets] == [initial] and rest == padding


_FRAME = st.one_of(
    st.binary(min_size=1, max_size=30).map(lambda b: b"\x00" * len(b)),  # PADDING run
    st.just(b"\x01"),  # PING
    st.just(b"\x40\x01"),  # PING, two-byte type encoding
    st.tuples(st.integers(0, 2**20), st.binary(max_size=40)).map(
        lambda t: b"\x06" + encode_varint(t[0]) + encode_varint(len(t[1])) + t[1]
    ),  # CRYPTO
    st.just(bytes.fromhex("0205000100")),  # ACK largest 5, one more range
    st.just(bytes.fromhex("0300000000010203")),  # ACK_ECN
    st.just(bytes.fromhex("1c4128060e") + b"handshake fail"),  # CONNECTION_CLOSE
    st.binary(min_size=1, max_size=3),  # anything
)


@FUZZ
@given(st.lists(_FRAME, max_size=12), st.integers(0, 400))
def test_initial_frames_like_the_model(frames: list[bytes], cut: int) -> None:
    payload = b"".join(frames)
    for body in (payload, payload[:cut]):
        got = _outcome(lambda b=body: parse_initial_frames(b))  # type: ignore[misc]
        assert got == _outcome(lambda b=body: model_frames(b))  # type: ignore[misc]


@FUZZ
@given(st.binary(max_size=100), st.binary(max_size=200))
def test_hmac_sha256_is_rfc_2104(key: bytes, msg: bytes) -> None:
    import hmac

    from netwatch.dpi.quic.crypto import HmacSha256

    keyed = HmacSha256(key)
    assert keyed.digest(msg) == hmac.digest(key, msg, "sha256")
    assert keyed.digest(msg[::-1]) == hmac.digest(key, msg[::-1], "sha256")  # reusable


@FUZZ
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=1, max_size=20))
def test_packet_keys_and_initial_secrets_are_the_hkdf_ones(secret: bytes, dcid: bytes) -> None:
    from netwatch.dpi.quic.crypto import InitialKeys, hkdf_expand_label, hkdf_extract

    for version in {v.number: v for v in VERSIONS.values() if v.salt is not None}.values():
        assert version.salt is not None
        labels = ((version.label("key"), 16), (version.label("iv"), 12), (version.label("hp"), 16))
        pp = PacketProtection(secret, version)
        assert [pp.key, pp.iv, pp.hp] == [hkdf_expand_label(secret, x, b"", n) for x, n in labels]
        initial = hkdf_extract(version.salt, dcid)
        keys = InitialKeys(version, dcid)
        for side, label in ((0, b"client in"), (1, b"server in")):
            want = PacketProtection(hkdf_expand_label(initial, label, b"", 32), version)
            got = keys.side(side)
            assert (got.key, got.iv, got.hp) == (want.key, want.iv, want.hp)


@FUZZ
@given(st.binary(max_size=10))
def test_varint_value_like_the_model(value: bytes) -> None:
    from netwatch.dpi.quic.transport_params import _varint_value

    def model() -> int:
        buf = Buffer(value)
        n = buf.varint("max_idle_timeout")
        if not buf.eof():
            raise MalformedError("QUIC", "max_idle_timeout: trailing bytes")
        return n

    assert _outcome(lambda: _varint_value(value, "max_idle_timeout")) == _outcome(model)


@FUZZ
@given(st.binary(max_size=64))
def test_u32_list_like_the_model(value: bytes) -> None:
    from netwatch.dpi.quic.transport_params import _u32_list

    def model() -> tuple[int, ...]:
        if len(value) % 4:
            raise MalformedError("QUIC", "version_information: length not a multiple of 4")
        return tuple(int.from_bytes(value[i : i + 4], "big") for i in range(0, len(value), 4))

    assert _outcome(lambda: _u32_list(value, "version_information")) == _outcome(model)
