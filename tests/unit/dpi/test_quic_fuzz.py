"""Bounded fuzzing: whatever the bytes, only MalformedError leaves the QUIC code."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netwatch.dpi.base import Dir
from netwatch.dpi.quic import QUICAnalyzer
from netwatch.dpi.quic.frames import parse_initial_frames
from netwatch.dpi.quic.gquic import GQuicInfo, parse_chlo
from netwatch.dpi.quic.packet import encode_varint, split_datagram
from netwatch.dpi.quic.stream import CryptoStream
from netwatch.dpi.quic.transport_params import parse_transport_parameters
from netwatch.dpi.quic.versions import V1, V2
from netwatch.errors import MalformedError
from tests.unit.dpi.test_quic_support import (
    RFC_DCID,
    crypto_frame,
    long_packet,
    rfc_client_hello_crypto,
    rfc_client_initial,
    rfc_server_initial,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CH = rfc_client_hello_crypto()


def _feed_all(datagrams: list[tuple[int, bytes]]) -> QUICAnalyzer:
    a = QUICAnalyzer()
    for i, (direction, data) in enumerate(datagrams):
        try:
            a.feed(Dir(direction), data, float(i))
        except MalformedError:
            pass  # the engine counts it and detaches; the record must still build
        a.record()
        a.summary()
        _ = (a.finished, a.app_state, a.idle_timeout)
    return a


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=1500)), max_size=6))
def test_random_datagrams(datagrams: list[tuple[int, bytes]]) -> None:
    _feed_all(datagrams)


@FUZZ
@given(st.sampled_from([0x80, 0xC0, 0xC3, 0xD0, 0xE0, 0xF0, 0x40, 0x09, 0x0D]), st.binary())
def test_header_shaped_garbage(first: int, rest: bytes) -> None:
    for version in (V1, V2, int.from_bytes(b"Q050", "big"), int.from_bytes(b"Q046", "big")):
        _feed_all([(0, bytes([first]) + version.to_bytes(4, "big") + rest)])
    _feed_all([(0, bytes([first]) + rest)])


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, 1199), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 1300),
)
def test_mutated_rfc_initial(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(rfc_client_initial())
    for pos, value in flips:
        data[pos] = value
    _feed_all([(0, bytes(data[:cut])), (1, rfc_server_initial())])


@FUZZ
@given(st.binary(min_size=1, max_size=600))
def test_valid_protection_random_plaintext(payload: bytes) -> None:
    dgram = long_packet(
        dcid=RFC_DCID, scid=b"", key_dcid=RFC_DCID, sender=0, pn=0, payload=payload, pad_to=1200
    )
    _feed_all([(0, dgram)])


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, len(CH)), st.integers(0, len(CH))), max_size=10),
    st.binary(max_size=40),
)
def test_valid_protection_hello_pieces(pieces: list[tuple[int, int]], noise: bytes) -> None:
    frames = b"".join(crypto_frame(min(a, b), CH[min(a, b) : max(a, b)]) for a, b in pieces)
    frames += crypto_frame(len(CH), noise) if noise else b""
    dgram = long_packet(
        dcid=RFC_DCID, scid=b"", key_dcid=RFC_DCID, sender=0, pn=1, payload=frames or b"\x01"
    )
    a = _feed_all([(0, rfc_client_initial()), (0, dgram)])
    assert a.record()["sni"] == "example.com"  # learnt from the first datagram, kept


@FUZZ
@given(st.binary(max_size=300))
def test_random_frames(payload: bytes) -> None:
    try:
        parse_initial_frames(payload)
    except MalformedError:
        pass


@FUZZ
@given(st.binary(max_size=200), st.one_of(st.none(), st.integers(17, 34)))
def test_random_transport_parameters(data: bytes, draft: int | None) -> None:
    try:
        parse_transport_parameters(data, draft)
    except MalformedError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_random_chlo(data: bytes) -> None:
    for blob in (data, b"CHLO" + data):
        try:
            parse_chlo(blob)
        except MalformedError:
            pass
        info = GQuicInfo()
        try:
            info.feed_client(b"\x0d" + bytes(8) + b"Q043" + b"\x01" + blob)
        except MalformedError:
            pass


@FUZZ
@given(st.binary(max_size=1500), st.booleans())
def test_split_datagram_only_malformed(data: bytes, grease_ok: bool) -> None:
    try:
        packets, rest = split_datagram(data, grease_ok)
    except MalformedError:
        return
    assert b"".join(p.data for p in packets) + rest == data


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 300)), max_size=40))
def test_crypto_stream_holds_a_prefix(fragments: list[tuple[int, int]]) -> None:
    reference = bytes((i * 7) & 0xFF for i in range(2400))
    s = CryptoStream(limit=2400)
    for offset, n in fragments:
        s.add(offset, reference[offset : offset + n])
    assert s.contiguous == reference[: len(s)]
    covered = sorted((o, o + min(n, 2400 - o)) for o, n in fragments if n)
    reach = 0
    for start, end in covered:
        if start > reach:
            break
        reach = max(reach, end)
    assert len(s) == reach


def test_varint_encoding_matches_lengths() -> None:
    assert [len(encode_varint(v)) for v in (0, 64, 16384, 2**30)] == [1, 2, 4, 8]
