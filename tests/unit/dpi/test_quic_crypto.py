"""Initial packet protection against the RFC 9001 and RFC 9369 Appendix A vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netwatch.dpi.quic.crypto import (
    PacketProtection,
    decode_packet_number,
    hkdf_extract,
    initial_secrets,
    retry_integrity_ok,
)
from netwatch.dpi.quic.versions import (
    SALT_V1,
    V1,
    V2,
    VERSIONS,
    QuicVersion,
    lookup,
    version_name,
)
from netwatch.errors import MalformedError

DATA = Path(__file__).resolve().parents[2] / "data" / "quic"


def _vectors(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


VECTORS = [_vectors("rfc9001_a.json"), _vectors("rfc9369_a.json")]
IDS = ["rfc9001", "rfc9369"]


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _client_payload(v: dict[str, Any]) -> bytes:
    return _h(v["client_plain_payload_head"]) + bytes(v["client_plain_payload_padding"])


def _version(v: dict[str, Any]) -> QuicVersion:
    found = lookup(int(v["version"], 16))
    assert found is not None
    return found


def test_initial_secret_rfc9001_a1() -> None:
    v = VECTORS[0]
    assert hkdf_extract(SALT_V1, _h(v["dcid"])) == _h(v["initial_secret"])


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_secrets_and_keys(v: dict[str, Any]) -> None:
    version = _version(v)
    client_secret, server_secret = initial_secrets(version, _h(v["dcid"]))
    assert client_secret == _h(v["client_initial_secret"])
    assert server_secret == _h(v["server_initial_secret"])
    client, server = PacketProtection.initial_pair(version, _h(v["dcid"]))
    assert (client.key, client.iv, client.hp) == (
        _h(v["client_key"]),
        _h(v["client_iv"]),
        _h(v["client_hp"]),
    )
    assert (server.key, server.iv, server.hp) == (
        _h(v["server_key"]),
        _h(v["server_iv"]),
        _h(v["server_hp"]),
    )


def test_header_protection_mask_rfc9001_a2() -> None:
    v = VECTORS[0]
    client, _ = PacketProtection.initial_pair(VERSIONS[V1], _h(v["dcid"]))
    assert client.mask(_h(v["client_sample"]))[:5] == _h(v["client_mask"])


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_unprotect_client_initial(v: dict[str, Any]) -> None:
    client, _ = PacketProtection.initial_pair(_version(v), _h(v["dcid"]))
    header, pn, payload = client.unprotect(_h(v["client_protected"]), 18, -1)
    assert header == _h(v["client_plain_header"])
    assert pn == v["client_pn"]
    assert payload == _client_payload(v)


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_unprotect_server_initial(v: dict[str, Any]) -> None:
    _, server = PacketProtection.initial_pair(_version(v), _h(v["dcid"]))
    header, pn, payload = server.unprotect(_h(v["server_protected"]), 18, -1)
    assert header == _h(v["server_plain_header"])
    assert pn == v["server_pn"]
    assert payload == _h(v["server_plain_payload"])


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_protect_is_byte_exact(v: dict[str, Any]) -> None:
    client, server = PacketProtection.initial_pair(_version(v), _h(v["dcid"]))
    sealed = client.protect(_h(v["client_plain_header"]), _client_payload(v), v["client_pn"])
    assert sealed == _h(v["client_protected"])
    sealed = server.protect(
        _h(v["server_plain_header"]), _h(v["server_plain_payload"]), v["server_pn"]
    )
    assert sealed == _h(v["server_protected"])


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_wrong_keys_or_flipped_bit_do_not_decrypt(v: dict[str, Any]) -> None:
    client, server = PacketProtection.initial_pair(_version(v), _h(v["dcid"]))
    packet = _h(v["client_protected"])
    with pytest.raises(MalformedError, match="does not decrypt"):
        server.unprotect(packet, 18, -1)
    flipped = packet[:-1] + bytes([packet[-1] ^ 1])
    with pytest.raises(MalformedError, match="does not decrypt"):
        client.unprotect(flipped, 18, -1)
    with pytest.raises(MalformedError, match="sample"):
        client.unprotect(packet[:30], 18, -1)


def test_v1_keys_do_not_open_v2_packets() -> None:
    v = VECTORS[1]
    client, _ = PacketProtection.initial_pair(VERSIONS[V1], _h(v["dcid"]))
    with pytest.raises(MalformedError):
        client.unprotect(_h(v["client_protected"]), 18, -1)


@pytest.mark.parametrize("v", VECTORS, ids=IDS)
def test_retry_integrity(v: dict[str, Any]) -> None:
    retry = _h(v["retry"])
    assert retry_integrity_ok(_version(v), _h(v["dcid"]), retry) is True
    assert retry_integrity_ok(_version(v), bytes(8), retry) is False
    assert retry_integrity_ok(_version(v), _h(v["dcid"]), retry[:-1] + b"\x00") is False


def test_packet_number_decoding_rfc9000_a3() -> None:
    assert decode_packet_number(0xA82F30EA, 0x9B32, 16) == 0xA82F9B32
    assert decode_packet_number(-1, 2, 32) == 2
    assert decode_packet_number(0xFF, 0x02, 8) == 0x102  # wraps forward
    assert decode_packet_number(0x102, 0xFF, 8) == 0xFF  # a late packet stays behind


def test_version_names() -> None:
    assert version_name(V1) == "v1"
    assert version_name(V2) == "v2"
    assert version_name(0xFF00001D) == "draft-29"
    assert version_name(int.from_bytes(b"Q050", "big")) == "Q050"
    assert version_name(int.from_bytes(b"T051", "big")) == "T051"
    assert version_name(0x1A2A3A4A) == "0x1a2a3a4a"
