"""QUIC versions as a data table (RFC 9000 §15, RFC 9001 §5.2, RFC 9369 §3).

Every version that netwatch can take apart is one row: its display name, the salt of its
Initial secrets, the prefix of its HKDF labels and how its long header spells the packet
types. A version not in the table is still QUIC by the invariants (RFC 8999), but its
Initial packets cannot be decrypted.

=====================  ==========  ============================================  ==============
version                name        Initial salt                                  labels / types
=====================  ==========  ============================================  ==============
0x00000001             v1          38762cf7f55934b34d179ae6a4c80cadccbb7f0a      quic, v1 order
0x6b3343cf             v2          0dede3def700a6db819381be6e269dcbf9bd2ed9      quicv2, v2 order
0xff000021..22         draft-33/34 the v1 salt                                   quic, v1 order
0xff00001d..20         draft-29-32 afbfec289993d24c9e9786f19c6111e04390a899      quic, v1 order
0xff000017..1c         draft-23-28 c3eef712c72ebb5a11a7d2432bb46365bef9f502      quic, v1 order
0xff000015..16         draft-21/22 7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a      quic, v1 order
0xff000011..14         draft-17-20 ef4fb0abb47470c41befcf8031334fae485e09a0      quic, v1 order
=====================  ==========  ============================================  ==============

The v1, v2 and draft-29 salts are checked by tests against the RFC vectors and real
captures; the older draft salts are the ones the drafts themselves published
(draft-ietf-quic-tls-17 §5.2, -21 §5.2, -23 §5.2).

Google QUIC versions (``Q043``, ``Q046``, ``Q050``: ASCII in the version field) are
recognised here too; only their names and framing matter (see ``gquic.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class PacketType(IntEnum):
    """Packet types, independent of how a version encodes them on the wire."""

    INITIAL = 0
    ZERO_RTT = 1
    HANDSHAKE = 2
    RETRY = 3
    VERSION_NEGOTIATION = 4
    ONE_RTT = 5
    UNKNOWN = 6


#: Long-header type bits (first byte ``0x30`` >> 4) to packet type, per version family.
V1_LONG_TYPES = (PacketType.INITIAL, PacketType.ZERO_RTT, PacketType.HANDSHAKE, PacketType.RETRY)
#: RFC 9369 §3.2: v2 rotates them so that v1 middleboxes do not ossify on the values.
V2_LONG_TYPES = (PacketType.RETRY, PacketType.INITIAL, PacketType.ZERO_RTT, PacketType.HANDSHAKE)

V1 = 0x00000001
V2 = 0x6B3343CF
NEGOTIATION = 0x00000000

SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
SALT_DRAFT_29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
SALT_DRAFT_23 = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
SALT_DRAFT_21 = bytes.fromhex("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a")
SALT_DRAFT_17 = bytes.fromhex("ef4fb0abb47470c41befcf8031334fae485e09a0")
#: Google QUIC Q050 protects its Initial packets like the IETF drafts, with its own salt.
SALT_Q050 = bytes.fromhex("504574efd066fe2f9d945cfcdbd3a7f0d3b56b45")

#: Retry Integrity Tag key and nonce (RFC 9001 §5.8, RFC 9369 §3.3.3, draft-29 §5.8).
RETRY_V1 = (
    bytes.fromhex("be0c690b9f66575a1d766b54e368c84e"),
    bytes.fromhex("461599d35d632bf2239825bb"),
)
RETRY_V2 = (
    bytes.fromhex("8fb4b01b56ac48e260fbcbcead7ccc92"),
    bytes.fromhex("d86969bc2d7c6d9990efb04a"),
)
RETRY_DRAFT_29 = (
    bytes.fromhex("ccce187ed09a09d05728155a6cb96be1"),
    bytes.fromhex("e54930f97f2136f0530a8c1c"),
)


@dataclass(frozen=True, slots=True)
class QuicVersion:
    number: int
    name: str
    #: Salt of HKDF-Extract for the Initial secrets; None when Initials are not protected.
    salt: bytes | None
    #: "quic " (v1 and drafts) or "quicv2 " (RFC 9369 §3.3.2).
    label_prefix: bytes
    long_types: tuple[PacketType, PacketType, PacketType, PacketType]
    #: Draft number for drafts (the transport-parameter encoding changed at draft-27).
    draft: int | None = None
    gquic: bool = False
    #: (key, nonce) of the Retry Integrity Tag; None where we cannot check it.
    retry_key: tuple[bytes, bytes] | None = None

    def label(self, what: str) -> bytes:
        """The HKDF label for ``key``, ``iv`` or ``hp`` in this version."""
        return self.label_prefix + what.encode("ascii")


def _draft(n: int, salt: bytes) -> QuicVersion:
    retry = RETRY_V1 if n >= 33 else RETRY_DRAFT_29 if n >= 29 else None
    return QuicVersion(
        0xFF000000 + n, f"draft-{n}", salt, b"quic ", V1_LONG_TYPES, draft=n, retry_key=retry
    )


def _gquic(name: str, salt: bytes | None = None) -> QuicVersion:
    number = int.from_bytes(name.encode("ascii"), "big")
    return QuicVersion(number, name, salt, b"quic ", V1_LONG_TYPES, gquic=True)


def _build() -> dict[int, QuicVersion]:
    table = {
        V1: QuicVersion(V1, "v1", SALT_V1, b"quic ", V1_LONG_TYPES, retry_key=RETRY_V1),
        V2: QuicVersion(V2, "v2", SALT_V2, b"quicv2 ", V2_LONG_TYPES, retry_key=RETRY_V2),
    }
    for n in range(17, 35):
        if n >= 33:
            salt = SALT_V1
        elif n >= 29:
            salt = SALT_DRAFT_29
        elif n >= 23:
            salt = SALT_DRAFT_23
        elif n >= 21:
            salt = SALT_DRAFT_21
        else:
            salt = SALT_DRAFT_17
        v = _draft(n, salt)
        table[v.number] = v
    for g in (_gquic("Q043"), _gquic("Q046"), _gquic("Q050", SALT_Q050)):
        table[g.number] = g
    return table


VERSIONS: dict[int, QuicVersion] = _build()


def lookup(number: int) -> QuicVersion | None:
    return VERSIONS.get(number)


def version_name(number: int) -> str:
    """``v1``, ``v2``, ``draft-29``, ``Q050``; else the hex value (``0x1a2a3a4a``)."""
    v = VERSIONS.get(number)
    if v is not None:
        return v.name
    raw = number.to_bytes(4, "big")
    if raw[:1] in (b"Q", b"T") and raw[1:].isdigit():  # other Google QUIC versions
        return raw.decode("ascii")
    return f"0x{number:08x}"


def is_gquic_version(number: int) -> bool:
    """Google QUIC spells its version in ASCII: ``Q0xx`` (QUIC crypto) or ``T0xx`` (TLS)."""
    raw = number.to_bytes(4, "big")
    return raw[:1] in (b"Q", b"T") and raw[1:].isdigit()


def is_reserved(number: int) -> bool:
    """RFC 9000 §15: versions ``0x?a?a?a?a`` exercise version negotiation (greasing)."""
    return number & 0x0F0F0F0F == 0x0A0A0A0A
