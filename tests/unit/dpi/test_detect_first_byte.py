"""The first-byte prefilter of detection changes no result.

A ``Detector`` row may declare ``first``: the first payload bytes its content check can
accept at all, and ``registry.detect`` does not try the row on a payload starting with
another byte. Checked here: every declared check rejects payloads whose first byte is
outside its set (random ones, and real accepted payloads with only the first byte
changed); every declared set holds the first byte of some payload the check accepts; and
``detect`` picks the same row as a plain walk of the table that tries every row.
"""

from __future__ import annotations

import functools
import importlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi import registry
from netwatch.dpi.http.h2 import PREFACE
from netwatch.dpi.registry_types import Detector
from tests.unit.dpi.test_registry_speedpaths import _model_detect
from tests.util.corpus import CORPUS
from tests.util.streams import flows_of

Check = Callable[[bytes], bool]

DECLARED = [d for d in registry.DETECTORS if d.first is not None]


def _check(det: Detector) -> Check:
    check: Check = getattr(importlib.import_module(det.module), det.detect)
    return check


def _row_id(det: Detector) -> str:
    return f"{det.protocol}-{det.transport}-{det.detect}"


def _snmp_get() -> bytes:
    varbind = bytes.fromhex("300906052b060102010500")
    pdu = bytes.fromhex("020400000001020100020100") + b"\x30" + bytes([len(varbind)])
    pdu += varbind
    body = bytes.fromhex("020100") + b"\x04\x06public" + b"\xa0" + bytes([len(pdu)]) + pdu
    return b"\x30" + bytes([len(body)]) + body


def _postgres_startup() -> bytes:
    body = (3 << 16).to_bytes(4, "big") + b"user\x00alice\x00database\x00db\x00\x00"
    return (len(body) + 4).to_bytes(4, "big") + body


def _mqtt_connect() -> bytes:
    var = b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a"
    return b"\x10" + bytes([len(var)]) + var


#: Valid payloads made by hand, per (module, check): so that no declared set rests on
#: the corpus alone.
HAND_MADE: dict[tuple[str, str], list[bytes]] = {
    ("netwatch.dpi.tls.analyzer", "detect_tcp"): [
        b"\x16\x03\x01\x00\xf3\x01\x00\x00\xef\x03\x03" + bytes(240),
        b"\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10" + bytes(37),  # SSL 2.0 CLIENT-HELLO
    ],
    ("netwatch.dpi.http", "detect_tcp"): [
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\nPOST /x HTTP/1.0\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"x-custom /thing HTTP/1.1\r\n",
        PREFACE,
    ],
    ("netwatch.dpi.ssh", "detect_tcp"): [b"SSH-2.0-OpenSSH_9.6\r\n", b"SSH-2."],
    ("netwatch.dpi.quic.analyzer", "detect_udp"): [
        b"\xc3\x00\x00\x00\x01\x08" + bytes(40),  # QUIC v1 long header
        b"\x09" + bytes(8) + b"Q043" + bytes(40),  # gQUIC public header
        b"\x0d" + bytes(8) + b"Q039" + bytes(40),
    ],
    ("netwatch.dpi.tls.analyzer", "detect_tcp_midstream"): [
        b"\x17\x03\x03\x00\x05hello",
        b"\x14\x03\x03\x00\x01\x01",
    ],
    ("netwatch.dpi.smtp", "detect_tcp"): [
        b"EHLO client.example\r\n",
        b"helo x\r\n",
        b"LHLO y\r\n",
        b"220 mx.example ESMTP Postfix\r\n",
    ],
    ("netwatch.dpi.ftp", "detect_tcp"): [
        b"220 (vsFTPd 3.0.3)\r\n",
        b"120 soon\r\n220 FTP ready\r\n",
        b"AUTH TLS\r\n",
        b"auth ssl\r\n",
    ],
    ("netwatch.dpi.imap", "detect_tcp"): [
        b"* OK IMAP4rev1 ready\r\n",
        b"a1 CAPABILITY\r\n",
        b"1.2 login bob secret\r\n",
    ],
    ("netwatch.dpi.pop3", "detect_tcp"): [b"+OK ready\r\n", b"CAPA\r\n", b"stls\r\n", b"APOP a b"],
    ("netwatch.dpi.rdp", "detect_tcp"): [b"\x03\x00\x00\x13\x0e\xe0" + bytes(13)],
    ("netwatch.dpi.telnet", "detect_tcp"): [b"\xff\xfd\x18", b"\xff\xfa\x1f", b"\xff"],
    ("netwatch.dpi.ftp", "detect_tcp_greeting"): [b"220 ready\r\n", b"120 x\r\n220 y\r\n"],
    ("netwatch.dpi.smtp", "detect_tcp_greeting"): [b"220 ready\r\n"],
    ("netwatch.dpi.postgres", "detect_tcp"): [
        (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"),
        _postgres_startup(),
    ],
    ("netwatch.dpi.mqtt", "detect_tcp"): [_mqtt_connect()],
    ("netwatch.dpi.redis", "detect_tcp"): [
        b"*1\r\n$4\r\nPING\r\n",
        b"PING\r\n",
        b"info server\r\n",
        b"HELLO 3\r\n",
        b"monitor\r\n",
        b"AUTH hunter2\r\n",
    ],
    ("netwatch.dpi.bittorrent", "detect_tcp"): [b"\x13BitTorrent protocol" + bytes(48)],
    ("netwatch.dpi.openvpn", "detect_udp"): [b"\x38" + bytes(range(1, 9)) + bytes(5)],
    ("netwatch.dpi.wireguard", "detect_udp"): [
        b"\x01\x00\x00\x00" + bytes(144),
        b"\x02\x00\x00\x00" + bytes(88),
        b"\x03\x00\x00\x00" + bytes(60),
    ],
    ("netwatch.dpi.wireguard", "detect_udp_midstream"): [b"\x04\x00\x00\x00" + bytes(60)],
    ("netwatch.dpi.sip", "detect_udp"): [
        b"INVITE sip:bob@example.com SIP/2.0\r\n",
        b"SIP/2.0 200 OK\r\n",
    ],
    ("netwatch.dpi.sip", "detect_tcp"): [b"REGISTER sip:example.com SIP/2.0\r\n"],
    ("netwatch.dpi.stun", "detect_udp"): [b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12)],
    ("netwatch.dpi.dhcp", "detect_udp"): [
        b"\x01\x01\x06\x00" + bytes(232) + b"\x63\x82\x53\x63" + b"\x35\x01\x01\xff",
        b"\x01\x00\x00\x01" + b"\x00\x01\x00\x00",  # DHCPv6 Solicit, an empty client id
    ],
    ("netwatch.dpi.snmp", "detect_udp"): [_snmp_get()],
    ("netwatch.dpi.ssdp", "detect_udp"): [
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
        b"NOTIFY * HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:1\r\n\r\n",
    ],
    ("netwatch.dpi.ntp", "detect_udp"): [b"\x23" + bytes(47), b"\xe3\x00\x06\xec" + bytes(44)],
}

#: Payloads of one row kept from the corpus (enough variety, bounded time).
MAX_REAL = 24


def _captures() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    tops = [p for p in CORPUS.iterdir() if p.suffix in (".pcap", ".pcapng")]
    return sorted([*tops, *CORPUS.glob("zeek/*/trace.pcap")])


@functools.cache
def _corpus_firsts() -> list[tuple[str, int, int, bytes]]:
    """(transport, client port, server port, payload) for the payloads detection sees of
    every corpus flow: each flow's first ``MAX_DETECT_PACKETS`` chunks, either side's."""
    out: list[tuple[str, int, int, bytes]] = []
    for path in _captures():
        for flow in flows_of(path):
            for _, data, _ in flow.chunks[: registry.MAX_DETECT_PACKETS]:
                out.append((flow.transport, flow.client[1], flow.server[1], data))
    return out


@functools.cache
def _accepted(det: Detector) -> list[bytes]:
    """Payloads the row's check accepts: its hand-made ones, then corpus ones."""
    check = _check(det)
    found = [p for p in HAND_MADE.get((det.module, det.detect), []) if check(p)]
    seen = set(found)
    real = 0
    for transport, _, _, data in _corpus_firsts():
        if real >= MAX_REAL:
            break
        if transport == det.transport and data not in seen and check(data):
            seen.add(data)
            found.append(data)
            real += 1
    return found


def test_some_rows_declare_first_bytes() -> None:
    assert DECLARED
    for det in DECLARED:
        assert det.first is not None
        assert det.first <= frozenset(range(256))
        assert len(det.first) < 256, "a set of every byte filters nothing: leave it None"


def test_hand_made_payloads_are_valid() -> None:
    """Each hand-made payload is one its row's check accepts (a typo would hide)."""
    for det in DECLARED:
        made = HAND_MADE.get((det.module, det.detect))
        assert made, f"{_row_id(det)}: no hand-made payload"
        check = _check(det)
        for payload in made:
            assert check(payload), (_row_id(det), payload)


@pytest.mark.parametrize("det", DECLARED, ids=_row_id)
def test_declared_set_is_not_vacuous(det: Detector) -> None:
    accepted = _accepted(det)
    assert accepted
    assert det.first is not None
    for payload in accepted:
        assert payload[0] in det.first, (payload[:16], sorted(det.first))


@pytest.mark.parametrize("det", DECLARED, ids=_row_id)
def test_accepted_payloads_with_another_first_byte_are_rejected(det: Detector) -> None:
    assert det.first is not None
    check = _check(det)
    outside = [b for b in range(256) if b not in det.first]
    for payload in _accepted(det):
        for b in outside:
            changed = bytes([b]) + payload[1:]
            assert not check(changed), (_row_id(det), changed[:32])


@pytest.mark.parametrize("det", DECLARED, ids=_row_id)
def test_random_payloads_with_another_first_byte_are_rejected(det: Detector) -> None:
    assert det.first is not None
    check = _check(det)
    outside = sorted(frozenset(range(256)) - det.first)
    tails = [p[1:] for p in _accepted(det)]

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(
        st.sampled_from(outside),
        st.one_of(
            st.binary(max_size=96),
            st.sampled_from(tails),
            # a real tail, cut or with bytes flipped
            st.tuples(st.sampled_from(tails), st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
            st.tuples(st.sampled_from(tails), st.binary(min_size=1, max_size=8)).map(
                lambda t: t[1] + t[0][len(t[1]) :]
            ),
        ),
    )
    def rejected(first: int, tail: bytes) -> None:
        assert not check(bytes([first]) + tail)

    rejected()


# -- detect() against a walk of every row, without the prefilter -------------------------


# (the model: every row of the transport in trial order, hinted ones first, no filter)
_walk = _model_detect


def _same(transport: str, data: bytes, sport: int, dport: int) -> None:
    want = _walk(transport, data, sport, dport)
    got: Any = registry.detect(transport, data, sport, dport)
    if want is None:
        assert got is None, (transport, sport, dport, data[:32])
    else:
        assert got is not None, (transport, sport, dport, data[:32], want)
        assert got.protocol == want.protocol
        assert type(got).__name__ == want.factory


def test_detect_agrees_with_the_walk_on_corpus_payloads() -> None:
    firsts = _corpus_firsts()
    if not firsts:
        pytest.skip("corpus not available")
    for transport, cport, sport, data in firsts:
        _same(transport, data, cport, sport)
        _same(transport, data, sport, cport)


PORTS = sorted({0, 1, 53, 80, 443, 1024, 9999, 40000, 65535} | registry._HINT_PORTS)


def test_detect_agrees_with_the_walk_on_random_payloads() -> None:
    rng = random.Random(20261122)
    samples = [p for det in registry.DETECTORS for p in _accepted(det)]
    samples += [data for *_, data in _corpus_firsts()[:500]]
    for i in range(4000):
        kind = i % 4
        if kind == 0:
            data = rng.randbytes(rng.randint(0, 64))
        elif kind == 1:  # a valid payload of some row with its first byte changed
            base = rng.choice(samples)
            data = bytes([rng.randrange(256)]) + base[1:]
        elif kind == 2:  # a valid payload, cut short
            base = rng.choice(samples)
            data = base[: rng.randint(0, len(base))]
        else:  # one printable byte, then noise
            data = bytes([rng.randrange(32, 127)]) + rng.randbytes(rng.randint(0, 40))
        transport = rng.choice(("tcp", "udp"))
        _same(transport, data, rng.choice(PORTS), rng.choice(PORTS))


def test_the_cache_keeps_rows_of_every_first_byte_apart() -> None:
    """One port pair, payloads of different first bytes: each gets its own trial rows."""
    tls = HAND_MADE[("netwatch.dpi.tls.analyzer", "detect_tcp")][0]
    ssh = HAND_MADE[("netwatch.dpi.ssh", "detect_tcp")][0]
    for _ in range(2):
        for data, protocol in ((tls, "TLS"), (ssh, "SSH"), (b"", None), (b"\x00junk", None)):
            got = registry.detect("tcp", data, 40000, 443)
            assert (got.protocol if got is not None else None) == protocol
