"""``app.quic`` records validate against docs/schema/app/quic.schema.json (draft 2020-12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from netwatch.dpi.base import Dir
from netwatch.dpi.quic import QUICAnalyzer, detect_udp
from netwatch.dpi.quic.record import blank_record
from netwatch.errors import MalformedError
from tests.unit.dpi.test_quic_support import (
    RFC9001,
    RFC9369,
    close_frame,
    long_packet,
    rfc_client_initial,
    rfc_server_initial,
)
from tests.util.corpus import corpus_file
from tests.util.streams import flows_of

REPO = Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO / "docs" / "schema" / "app" / "quic.schema.json"
CAPTURES = [
    "ndpi_quic-29.pcap",
    "ndpi_quic-v2.pcapng",
    "ndpi_quic_frags_ch_in_multiple_packets.pcapng",
    "sv_quic-ietf.pcap",
    "sv_quic-frag-unordered.pcap",
    "foxio_chrome-cloudflare-quic-with-secrets.pcapng",
    "ndpi_gquic.pcap",
    "ndpi_http_ipv6.pcap",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _records() -> list[dict[str, Any]]:
    out = [QUICAnalyzer().record()]
    for name in CAPTURES:
        for flow in flows_of(corpus_file(name)):
            if flow.transport != "udp" or not flow.chunks or not detect_udp(flow.chunks[0][1]):
                continue
            a = QUICAnalyzer()
            for i, (direction, data, ts) in enumerate(flow.chunks):
                a.feed(Dir(direction), data, ts)
                if i == 0:
                    out.append(a.record())
            out.append(a.record())
    for v in (RFC9001, RFC9369):
        a = QUICAnalyzer()
        a.feed(Dir.CLIENT, rfc_client_initial(v), 1.0)
        a.feed(Dir.SERVER, rfc_server_initial(v), 1.0)
        out.append(a.record())
    a = QUICAnalyzer()
    a.feed(Dir.CLIENT, rfc_client_initial(), 1.0)
    dcid = bytes.fromhex(RFC9001["dcid"])
    close = long_packet(
        dcid=b"", scid=b"\x01", key_dcid=dcid, sender=1, pn=0, payload=close_frame(0x0A, "x")
    )
    a.feed(Dir.SERVER, close, 1.1)
    out.append(a.record())
    a = QUICAnalyzer()
    with pytest.raises(MalformedError):
        a.feed(Dir.CLIENT, rfc_client_initial()[:-1] + b"\x00", 1.0)
    out.append(a.record())
    return out


def test_every_record_validates(validator: jsonschema.Draft202012Validator) -> None:
    records = _records()
    assert len(records) > 15
    assert any(r["gquic"] for r in records)
    assert any(r["close_error"] for r in records)
    order = list(blank_record())
    for rec in records:
        validator.validate(rec)
        json.dumps(rec)  # JSON-serialisable as is
        assert list(rec) == order  # every record has the blank record's keys, in its order


def test_schema_lists_exactly_the_record_keys(validator: jsonschema.Draft202012Validator) -> None:
    keys = set(blank_record())
    assert set(validator.schema["required"]) == keys
    assert set(validator.schema["properties"]) == keys


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("version", "V1"),
        ("dcid", "ABC"),
        ("state", "CONNECTED"),
        ("ja3", "xyz"),
        ("tls_cipher", "4865"),
        ("close_error", {"by": "nobody"}),
        ("alpn_offered", [""]),
        ("idle_timeout_ms", 0),
    ],
)
def test_schema_rejects_what_it_should(
    validator: jsonschema.Draft202012Validator, key: str, value: object
) -> None:
    rec = blank_record()
    rec[key] = value
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(rec)
    rec = blank_record()
    rec["extra"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(rec)
