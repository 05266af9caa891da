"""Detection's shortcuts decide what the plain table walk decides.

``registry.detect`` keeps each port pair's trial order as row indexes and looks a row's
content check up once. The model below is the walk it replaced: the rows of the
transport hinted by either port, then the others, each check fetched from its module
at every trial. Both must pick the same row for any payload and ports.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwatch.dpi import registry
from netwatch.dpi.registry_types import Detector

PORTS = sorted({0, 1, 53, 80, 443, 9999, 40000, 65535} | registry._HINT_PORTS)


def _model_order(transport: str, sport: int, dport: int) -> list[Detector]:
    rows = [d for d in registry.DETECTORS if d.transport == transport]
    hinted = [d for d in rows if sport in d.ports or dport in d.ports]
    return hinted + [d for d in rows if d not in hinted]


def _model_detect(transport: str, data: bytes, sport: int, dport: int) -> Detector | None:
    for det in _model_order(transport, sport, dport):
        try:
            mod = importlib.import_module(det.module)
        except ImportError:
            continue
        check = getattr(mod, det.detect, None)
        if check is not None and check(data):
            return det
    return None


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_trial_order_is_the_table_walk(transport: str) -> None:
    for sport in PORTS:
        for dport in PORTS:
            order = [registry.DETECTORS[i] for i in registry._candidates(transport, sport, dport)]
            assert order == _model_order(transport, sport, dport)


PAYLOADS = [
    b"\x16\x03\x01\x00\xf3\x01\x00\x00\xef\x03\x03" + bytes(240),  # TLS ClientHello
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"220 mail.example ESMTP\r\n",
    b"220 ready\r\n",
    b"\x23" + bytes(47),  # NTP-shaped
    bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001"),  # DNS
    b"\x17junk",
]


def _protocol(an: Any) -> str | None:
    return None if an is None else an.protocol


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["tcp", "udp"]),
    st.one_of(st.sampled_from(PAYLOADS), st.binary(min_size=1, max_size=48)),
    st.sampled_from(PORTS),
    st.sampled_from(PORTS),
)
def test_detect_picks_the_row_the_walk_picks(
    transport: str, data: bytes, sport: int, dport: int
) -> None:
    want = _model_detect(transport, data, sport, dport)
    got = registry.detect(transport, data, sport, dport)
    assert _protocol(got) == (want.protocol if want is not None else None)
    if want is not None:
        assert type(got).__name__ == want.factory


def test_known_payloads_on_their_ports() -> None:
    assert _protocol(registry.detect("tcp", PAYLOADS[0], 40000, 443)) == "TLS"
    assert _protocol(registry.detect("tcp", PAYLOADS[1], 40000, 80)) == "HTTP"
    assert _protocol(registry.detect("tcp", PAYLOADS[4], 40000, 21)) == "FTP"
    assert _protocol(registry.detect("tcp", PAYLOADS[4], 40000, 25)) == "SMTP"
    assert _protocol(registry.detect("udp", PAYLOADS[6], 40000, 53)) == "DNS"
    assert registry.detect("tcp", PAYLOADS[7], 40000, 9999) is None
